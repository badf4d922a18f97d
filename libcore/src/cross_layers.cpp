// Minibatch CKA maps across layers and nets (Nguyen, Raghu & Kornblith 2021,
// Sec. 3.1; see cross_layers.hpp). The heavy parts are Backend ops:
// linear_gram per layer and minibatch, unbiased_hsic over all layers' Grams.
#include "convergent/cross_layers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "allocation.hpp"

namespace convergent {

namespace {

// Natural order: digit runs compare by value (then by length, so "01" and
// "1" stay distinct), everything else byte by byte.
bool natural_less(const std::string& x, const std::string& y) {
    size_t i = 0, j = 0;
    while (i < x.size() && j < y.size()) {
        const bool dx = std::isdigit(static_cast<unsigned char>(x[i])) != 0;
        const bool dy = std::isdigit(static_cast<unsigned char>(y[j])) != 0;
        if (dx && dy) {
            size_t ei = i, ej = j;
            while (ei < x.size() && std::isdigit(static_cast<unsigned char>(x[ei]))) ++ei;
            while (ej < y.size() && std::isdigit(static_cast<unsigned char>(y[ej]))) ++ej;
            size_t zi = i, zj = j;  // skip leading zeros for the value comparison
            while (zi + 1 < ei && x[zi] == '0') ++zi;
            while (zj + 1 < ej && y[zj] == '0') ++zj;
            const std::string vx = x.substr(zi, ei - zi), vy = y.substr(zj, ej - zj);
            if (vx.size() != vy.size()) return vx.size() < vy.size();
            if (vx != vy) return vx < vy;
            if (ei - i != ej - j) return ei - i < ej - j;
            i = ei, j = ej;
            continue;
        }
        if (x[i] != y[j]) return static_cast<unsigned char>(x[i]) < static_cast<unsigned char>(y[j]);
        ++i, ++j;
    }
    return x.size() - i < y.size() - j;
}

}  // namespace

std::vector<std::string> cross_layer_axis_order(std::vector<std::string> layers) {
    std::stable_sort(layers.begin(), layers.end(), natural_less);
    return layers;
}

double cka_from_hsic(double hsic_lm, double hsic_ll, double hsic_mm) {
    if (!(hsic_ll > 0.0) || !(hsic_mm > 0.0)) return std::numeric_limits<double>::quiet_NaN();
    return hsic_lm / std::sqrt(hsic_ll * hsic_mm);
}

index_t check_cross_layer_inputs(const std::vector<std::string>& net_names,
                                 const std::vector<std::vector<const LayerSource*>>& layers) {
    CVG_REQUIRE(net_names.size() == layers.size() && !layers.empty(), InvalidArgument,
                "cross-layer CKA: one list of layers per net");
    const LayerSource* first = nullptr;
    for (size_t n = 0; n < layers.size(); ++n) {
        CVG_REQUIRE(!layers[n].empty(), InvalidArgument, "cross-layer CKA: net '" + net_names[n] + "' has no layers");
        for (const LayerSource* s : layers[n]) {
            if (!first) first = s;
            CVG_REQUIRE(s->images() == first->images(), BadData,
                        "cross-layer CKA: net '" + s->net_name() + "', layer '" + s->layer_name() + "' (" + s->what() +
                            ") has " + std::to_string(s->images()) + " inputs but net '" + first->net_name() +
                            "', layer '" + first->layer_name() + "' (" + first->what() + ") has " +
                            std::to_string(first->images()) +
                            "; every layer of every net must see the same inputs in the same order");
        }
    }
    CVG_REQUIRE(first->images() >= 4, BadData,
                "cross-layer CKA: " + std::to_string(first->images()) + " inputs (" + first->what() +
                    "); the unbiased HSIC needs at least 4 per minibatch");
    return first->images();
}

CrossLayerResult cross_layer_cka(const Backend& backend, const std::vector<std::string>& net_names,
                                 const std::vector<std::vector<const LayerSource*>>& layers, index_t batch_size,
                                 const std::function<void(double)>& progress) {
    CVG_REQUIRE(batch_size >= 4, InvalidArgument,
                "cross_layer_cka: the minibatch size must be >= 4 (unbiased HSIC), not " + std::to_string(batch_size));
    CrossLayerResult r;
    r.images = check_cross_layer_inputs(net_names, layers);
    index_t total = 0;
    for (const auto& net : layers) total += index_t(net.size());
    r.batch_size = std::min(batch_size, r.images);
    r.batches = r.images / r.batch_size;
    r.dropped_images = r.images - r.batches * r.batch_size;
    for (size_t n = 0; n < layers.size(); ++n) {
        CrossLayerNet net{net_names[n], {}};
        for (const LayerSource* s : layers[n]) net.layers.push_back(s->layer_name());
        r.nets.push_back(std::move(net));
    }

    const index_t b = r.batch_size;
    index_t widest = 0;  // features per image, over all layers
    for (const auto& net : layers)
        for (const LayerSource* s : net) widest = std::max(widest, s->positions() * s->units());
    std::vector<float> features;
    std::vector<double> grams, hsic(size_t(total * total)), sum(size_t(total * total), 0.0);
    resize_or_fail(features, std::uint64_t(b * widest), "cross-layer CKA", "one layer's minibatch of features");
    resize_or_fail(grams, std::uint64_t(total * b * b), "cross-layer CKA",
                   "the minibatch Grams of " + std::to_string(total) + " layers");
    for (index_t k = 0; k < r.batches; ++k) {
        index_t slot = 0;
        for (const auto& net : layers)
            for (const LayerSource* s : net) {
                // Rows image * positions + position of units: per image one
                // contiguous vector of positions * units features.
                s->read_images(k * b, b, features.data());
                const index_t dims = s->positions() * s->units();
                backend.linear_gram(features.data(), b, dims, dims, grams.data() + slot * b * b);
                ++slot;
            }
        backend.unbiased_hsic(grams.data(), total, b, hsic.data());
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += hsic[i];
        if (progress) progress(double(k + 1) / double(r.batches));
    }
    r.mean_hsic.resize(sum.size());
    for (size_t i = 0; i < sum.size(); ++i) r.mean_hsic[i] = sum[i] / double(r.batches);

    std::vector<index_t> offset(layers.size() + 1, 0);
    for (size_t n = 0; n < layers.size(); ++n) offset[n + 1] = offset[n] + index_t(layers[n].size());
    for (int a = 0; a < int(layers.size()); ++a)
        for (int c = a; c < int(layers.size()); ++c) {
            CrossLayerMap m;
            m.a = a, m.b = c;
            m.rows = index_t(layers[size_t(a)].size());
            m.cols = index_t(layers[size_t(c)].size());
            m.cka.resize(size_t(m.rows * m.cols));
            for (index_t i = 0; i < m.rows; ++i)
                for (index_t j = 0; j < m.cols; ++j) {
                    const index_t gi = offset[size_t(a)] + i, gj = offset[size_t(c)] + j;
                    m.cka[size_t(i * m.cols + j)] =
                        cka_from_hsic(r.mean_hsic[size_t(gi * total + gj)], r.mean_hsic[size_t(gi * total + gi)],
                                      r.mean_hsic[size_t(gj * total + gj)]);
                }
            if (a == c)  // exactly 1 on the diagonal (rounding aside, it is)
                for (index_t i = 0; i < m.rows; ++i)
                    if (!std::isnan(m.cka[size_t(i * m.cols + i)])) m.cka[size_t(i * m.cols + i)] = 1.0;
            r.maps.push_back(std::move(m));
        }
    return r;
}

}  // namespace convergent
