// Block moments, bootstrap intervals, held-out scores and permutation nulls
// (resampling.hpp, docs/resampling.md).
#include "convergent/resampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "allocation.hpp"
#include "convergent/matching.hpp"
#include "convergent/sparse_prediction.hpp"

namespace convergent {

extern "C" void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
                       const double* a, const int* lda, const double* beta, double* c, const int* ldc);

namespace {

std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// An unbiased draw in [0, n) (rejection of the short last range).
index_t draw_below(std::mt19937_64& rng, index_t n) {
    const std::uint64_t range = std::uint64_t(n);
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % range;
    std::uint64_t v;
    do v = rng();
    while (v >= limit);
    return index_t(v % range);
}

// Adds rows x cols row-major centred values (ld = cols) into the upper
// triangle of the row-major cols x cols matrix c: one dsyrk (the row-major
// upper triangle is BLAS's column-major lower one).
void add_products(const double* x, index_t rows, index_t cols, double* c) {
    if (cols < 32) {
        // Small layers: a plain loop (a BLAS call per block and replicate
        // would cost more in thread hand-offs than in arithmetic).
        for (index_t r = 0; r < rows; ++r) {
            const double* row = x + r * cols;
            for (index_t i = 0; i < cols; ++i) {
                const double xi = row[i];
                double* ci = c + i * cols;
                for (index_t j = i; j < cols; ++j) ci[j] += xi * row[j];
            }
        }
        return;
    }
    const int n = int(cols), k = int(rows), lda = int(cols), ldc = int(cols);
    const double one = 1.0;
    dsyrk_("L", "N", &n, &k, &one, x, &lda, &one, c, &ldc);
}

}  // namespace

std::uint64_t resampling_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
    return splitmix64(splitmix64(seed ^ splitmix64(stream)) + index);
}

double block_moments_bytes(index_t width, index_t blocks) {
    const double t = double(width), b = double(blocks);
    // Block comoments and means; one merged T^2 comoment, its accumulator
    // copy and the replicate's correlation.
    return 8.0 * b * (t * t + t + 1) + 3.0 * 8.0 * t * t;
}

// ---- BlockMoments -----------------------------------------------------------------

BlockMoments::BlockMoments(std::vector<index_t> widths, index_t blocks, index_t positions, std::uint64_t seed,
                           std::string layer)
    : widths_(std::move(widths)), layer_(std::move(layer)), blocks_(blocks), positions_(positions),
      hash_seed_(resampling_seed(seed, kBlockHashStream, 0)) {
    CVG_REQUIRE(blocks_ >= 1, InvalidArgument, "layer '" + layer_ + "': resampling needs at least one image block");
    CVG_REQUIRE(positions_ >= 1, InvalidArgument, "layer '" + layer_ + "': positions per image must be >= 1");
    for (index_t w : widths_) width_ += w;
    counts_.assign(size_t(blocks_), 0);
    const std::string what = "layer '" + layer_ + "'";
    resize_or_fail(means_, size_t(blocks_ * width_), what, "the bootstrap block means");
    std::fill(means_.begin(), means_.end(), 0.0);
    resize_or_fail(comoments_, size_t(blocks_) * size_t(width_) * size_t(width_), what,
                   "the bootstrap block comoments (" + std::to_string(blocks_) + " blocks x " +
                       std::to_string(width_) + "^2 float64; fewer with --bootstrap-blocks)");
    std::fill(comoments_.begin(), comoments_.end(), 0.0);
}

index_t BlockMoments::block_of(index_t image) const {
    return index_t(splitmix64(hash_seed_ + std::uint64_t(image)) % std::uint64_t(blocks_));
}

void BlockMoments::add_piece(const float* piece, index_t first_row, index_t rows, index_t units, index_t column) {
    if (chunk_first_row_ < 0) chunk_first_row_ = first_row;  // the first net's first piece
    const index_t local = first_row - chunk_first_row_;
    CVG_REQUIRE(local >= 0, InvalidArgument, "layer '" + layer_ + "': block moments got pieces out of order");
    if (local + rows > chunk_rows_) {
        chunk_rows_ = local + rows;
        if (chunk_.size() < size_t(chunk_rows_ * width_))
            resize_or_fail(chunk_, size_t(chunk_rows_ * width_), "layer '" + layer_ + "'",
                           "the chunk copy of the bootstrap blocks");
    }
    for (index_t r = 0; r < rows; ++r)
        std::copy(piece + r * units, piece + (r + 1) * units, chunk_.begin() + (local + r) * width_ + column);
}

void BlockMoments::push(const float* x, index_t first_row, index_t rows) {
    add_piece(x, first_row, rows, width_, 0);
    end_chunk();
}

void BlockMoments::end_chunk() {
    const index_t first = chunk_first_row_, rows = chunk_rows_;
    chunk_first_row_ = -1, chunk_rows_ = 0;
    if (rows == 0) return;
    const index_t t = width_;
    const index_t image0 = first / positions_, images = rows / positions_;
    // The chunk's images by block, in image order within a block, blocks in
    // increasing order: the same sums whatever the chunking... up to the
    // Chan merges of the chunk boundaries.
    std::vector<std::pair<index_t, index_t>> order;  // (block, image)
    order.reserve(size_t(images));
    for (index_t i = 0; i < images; ++i) order.emplace_back(block_of(image0 + i), i);
    std::sort(order.begin(), order.end());
    std::vector<double> mean(static_cast<size_t>(t));
    for (size_t s = 0; s < order.size();) {
        size_t e = s;
        while (e < order.size() && order[e].first == order[s].first) ++e;
        const index_t block = order[s].first;
        const index_t n = index_t(e - s) * positions_;
        if (segment_.size() < size_t(n * t)) resize_or_fail(segment_, size_t(n * t), "layer '" + layer_ + "'", "a bootstrap block's rows");
        // The segment's rows, float64, then its own mean.
        index_t r = 0;
        for (size_t k = s; k < e; ++k)
            for (index_t p = 0; p < positions_; ++p, ++r) {
                const float* src = chunk_.data() + (order[k].second * positions_ + p) * t;
                std::copy(src, src + t, segment_.begin() + r * t);
            }
        std::fill(mean.begin(), mean.end(), 0.0);
        for (index_t i = 0; i < n; ++i)
            for (index_t c = 0; c < t; ++c) mean[size_t(c)] += segment_[size_t(i * t + c)];
        for (double& m : mean) m /= double(n);
        for (index_t i = 0; i < n; ++i)
            for (index_t c = 0; c < t; ++c) segment_[size_t(i * t + c)] -= mean[size_t(c)];
        // Chan merge into the block: C += S + na nb / (na + nb) d d', d = mean_s - mean_b.
        double* cb = comoments_.data() + size_t(block) * size_t(t * t);
        double* mb = means_.data() + size_t(block * t);
        const double na = double(counts_[size_t(block)]), nb = double(n), total = na + nb;
        if (na > 0) {
            const double factor = na * nb / total;
            for (index_t i = 0; i < t; ++i) {
                const double di = (mean[size_t(i)] - mb[i]) * factor;
                double* row = cb + i * t;
                for (index_t j = i; j < t; ++j) row[j] += di * (mean[size_t(j)] - mb[j]);
            }
        }
        add_products(segment_.data(), n, t, cb);
        for (index_t c = 0; c < t; ++c) mb[c] += (mean[size_t(c)] - mb[c]) * (nb / total);
        counts_[size_t(block)] += n;
        s = e;
    }
}

void BlockMoments::merge(const BlockMoments& other) {
    CVG_REQUIRE(other.widths_ == widths_ && other.blocks_ == blocks_ && other.positions_ == positions_ &&
                    other.hash_seed_ == hash_seed_,
                InvalidArgument, "layer '" + layer_ + "': merging block moments of another layout or seed");
    const index_t t = width_;
    for (index_t b = 0; b < blocks_; ++b) {
        const double nb = double(other.counts_[size_t(b)]);
        if (nb == 0) continue;
        const double na = double(counts_[size_t(b)]), total = na + nb;
        double* c = comoments_.data() + size_t(b) * size_t(t * t);
        const double* oc = other.comoments_.data() + size_t(b) * size_t(t * t);
        double* m = means_.data() + b * t;
        const double* om = other.means_.data() + b * t;
        const double factor = na * nb / total;
        for (index_t i = 0; i < t; ++i) {
            const double di = (om[i] - m[i]) * factor;
            for (index_t j = i; j < t; ++j) c[i * t + j] += oc[i * t + j] + di * (om[j] - m[j]);
        }
        for (index_t k = 0; k < t; ++k) m[k] += (om[k] - m[k]) * (nb / total);
        counts_[size_t(b)] += other.counts_[size_t(b)];
    }
}

LayerStatistics BlockMoments::statistics(const std::vector<index_t>& weights) const {
    CVG_REQUIRE(index_t(weights.size()) == blocks_, InvalidArgument,
                "layer '" + layer_ + "': block weights for " + std::to_string(weights.size()) + " of " +
                    std::to_string(blocks_) + " blocks");
    const index_t t = width_;
    double n = 0;
    std::vector<double> mean(size_t(t), 0.0);
    for (index_t b = 0; b < blocks_; ++b) {
        const double wn = double(weights[size_t(b)]) * double(counts_[size_t(b)]);
        if (wn == 0) continue;
        n += wn;
        const double* mb = means_.data() + b * t;
        for (index_t c = 0; c < t; ++c) mean[size_t(c)] += wn * mb[c];
    }
    CVG_REQUIRE(n >= 2, BadData,
                "layer '" + layer_ + "': the resampled images hold fewer than 2 samples; use more images or fewer blocks");
    for (double& m : mean) m /= n;
    // M = sum_b w_b (M_b + n_b (mean_b - mean)(mean_b - mean)'): the weighted
    // block comoments, then one dsyrk over the scaled mean differences.
    std::vector<double> comoment(size_t(t * t), 0.0);
    std::vector<double> deltas;
    index_t rows = 0;
    for (index_t b = 0; b < blocks_; ++b) {
        const double w = double(weights[size_t(b)]);
        if (w == 0 || counts_[size_t(b)] == 0) continue;
        const double* cb = comoments_.data() + size_t(b) * size_t(t * t);
        for (index_t i = 0; i < t; ++i) {
            double* row = comoment.data() + i * t;
            const double* src = cb + i * t;
            for (index_t j = i; j < t; ++j) row[j] += w * src[j];
        }
        const double scale = std::sqrt(w * double(counts_[size_t(b)]));
        const double* mb = means_.data() + b * t;
        for (index_t c = 0; c < t; ++c) deltas.push_back(scale * (mb[c] - mean[size_t(c)]));
        ++rows;
    }
    add_products(deltas.data(), rows, t, comoment.data());
    for (index_t i = 0; i < t; ++i)
        for (index_t j = 0; j < i; ++j) comoment[size_t(i * t + j)] = comoment[size_t(j * t + i)];
    MomentAccumulator acc(widths_, layer_, {});
    acc.merge_moments(index_t(std::llround(n)), mean.data(), comoment.data());
    return finalize_statistics(std::move(acc));
}

// ---- figures --------------------------------------------------------------------

NamedFigures pair_figures(const Backend& backend, const LayerStatistics& stats, int a, int b,
                          const FigureOptions& options, Fig3Curves* curves) {
    NamedFigures out;
    if (options.table1 || curves) {
        const std::vector<double> corr = stats.correlation_block(a, b);
        const Alignment al = align_nets(backend, corr.data(), stats, a, b, options.include_dead_units);
        if (curves) {
            curves->semi_matching.clear(), curves->matching.clear();
            for (index_t r : al.fig3_order) {
                curves->semi_matching.push_back(al.semi.value[size_t(r)]);
                curves->matching.push_back(al.matching.value[size_t(r)]);
            }
        }
        if (options.table1) {
            out.emplace_back("semi_matching_mean", al.semi.mean);
            out.emplace_back("matching_mean", al.matching.mean);
            out.emplace_back("overlap_ratio", al.overlap_ratio);
        }
    }
    if (options.indices) {
        const std::vector<double> xx = stats.covariance_block(a, a), yy = stats.covariance_block(b, b),
                                  xy = stats.covariance_block(a, b);
        const SimilarityIndices r =
            similarity_indices(xx.data(), yy.data(), xy.data(), stats.block_widths[size_t(a)],
                               stats.block_widths[size_t(b)], stats.samples, options.similarity, nullptr);
        out.emplace_back("cka", r.cka);
        out.emplace_back("cca_mean", r.cca_mean);
        out.emplace_back("svcca_mean", r.svcca_mean);
        out.emplace_back("pwcca_symmetric", r.pwcca_symmetric);
        out.emplace_back("procrustes_angular", r.procrustes_angular);
    }
    return out;
}

NamedFigures mi_pair_figures(const Backend& backend, const std::vector<BinnedUnits>& codes,
                             const LayerStatistics& stats, int a, int b, bool include_dead_units) {
    CVG_REQUIRE(a >= 0 && b >= 0 && size_t(std::max(a, b)) < codes.size(), InvalidArgument,
                "mi_pair_figures: no binned sample for net " + std::to_string(std::max(a, b)));
    const std::vector<double> mi = mutual_information_matrix(backend, codes[size_t(a)], codes[size_t(b)]);
    const Alignment al = align_nets(backend, mi.data(), stats, a, b, include_dead_units);
    return {{"mi_semi_matching_mean", al.semi.mean},
            {"mi_matching_mean", al.matching.mean},
            {"mi_overlap_ratio", al.overlap_ratio}};
}

std::vector<index_t> sample_row_weights(const BlockMoments& blocks, const std::vector<index_t>& rows,
                                        index_t positions, const std::vector<index_t>& block_weights) {
    CVG_REQUIRE(index_t(block_weights.size()) == blocks.blocks() && positions >= 1, InvalidArgument,
                "sample_row_weights: " + std::to_string(block_weights.size()) + " block weights for " +
                    std::to_string(blocks.blocks()) + " blocks");
    std::vector<index_t> w(rows.size());
    for (size_t s = 0; s < rows.size(); ++s) w[s] = block_weights[size_t(blocks.block_of(rows[s] / positions))];
    return w;
}

BinnedUnits repeat_samples(const BinnedUnits& binned, const std::vector<index_t>& weights) {
    CVG_REQUIRE(index_t(weights.size()) == binned.samples, InvalidArgument,
                "repeat_samples: " + std::to_string(weights.size()) + " weights for " +
                    std::to_string(binned.samples) + " samples");
    index_t n = 0;
    for (index_t w : weights) {
        CVG_REQUIRE(w >= 0, InvalidArgument, "repeat_samples: negative weight");
        n += w;
    }
    CVG_REQUIRE(n > 0, BadData, "the resampled images hold none of the mutual-information sample rows");
    BinnedUnits out;
    out.units = binned.units;
    out.samples = n;
    out.bins = binned.bins;
    out.edges = binned.edges;
    resize_or_fail(out.codes, std::uint64_t(out.units) * std::uint64_t(n), "a resampled mutual-information sample",
                   "the repeated bin codes");
    for (index_t u = 0; u < binned.units; ++u) {
        const std::uint8_t* src = binned.codes.data() + u * binned.samples;
        std::uint8_t* dst = out.codes.data() + u * n;
        for (index_t s = 0; s < binned.samples; ++s)
            for (index_t k = 0; k < weights[size_t(s)]; ++k) *dst++ = src[s];
    }
    return out;
}

namespace {
// numpy.quantile's default (linear) on sorted values.
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
    const double h = q * double(sorted.size() - 1);
    const size_t lo = size_t(std::floor(h));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (h - double(lo)) * (sorted[hi] - sorted[lo]);
}
}  // namespace

CurveBand curve_band(const std::vector<std::vector<double>>& replicate_curves, double level) {
    CurveBand band;
    size_t ranks = replicate_curves.empty() ? 0 : replicate_curves.front().size();
    for (const auto& c : replicate_curves) ranks = std::min(ranks, c.size());
    for (size_t k = 0; k < ranks; ++k) {
        std::vector<double> v;
        for (const auto& c : replicate_curves)
            if (std::isfinite(c[k])) v.push_back(c[k]);
        std::sort(v.begin(), v.end());
        band.low.push_back(quantile(v, 0.5 * (1.0 - level)));
        band.high.push_back(quantile(v, 0.5 * (1.0 + level)));
    }
    return band;
}

BootstrapInterval bootstrap_interval(double estimate, std::vector<double> replicates, double level) {
    BootstrapInterval r;
    r.estimate = estimate;
    replicates.erase(std::remove_if(replicates.begin(), replicates.end(), [](double v) { return !std::isfinite(v); }),
                     replicates.end());
    std::sort(replicates.begin(), replicates.end());
    r.replicates = index_t(replicates.size());
    r.low = quantile(replicates, 0.5 * (1.0 - level));
    r.high = quantile(replicates, 0.5 * (1.0 + level));
    double mean = 0;
    for (double v : replicates) mean += v;
    mean /= double(std::max<size_t>(1, replicates.size()));
    double ss = 0;
    for (double v : replicates) ss += (v - mean) * (v - mean);
    r.standard_error = replicates.size() > 1 ? std::sqrt(ss / double(replicates.size() - 1))
                                             : std::numeric_limits<double>::quiet_NaN();
    r.bias = replicates.empty() ? std::numeric_limits<double>::quiet_NaN() : mean - estimate;
    return r;
}

NullSummary null_summary(double observed, const std::vector<double>& null_values) {
    NullSummary s;
    s.observed = observed;
    std::vector<double> v;
    for (double x : null_values)
        if (std::isfinite(x)) v.push_back(x);
    s.permutations = index_t(v.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (v.empty()) {
        s.mean = s.sd = s.z = s.p_value = nan;
        return s;
    }
    double mean = 0;
    for (double x : v) mean += x;
    mean /= double(v.size());
    double ss = 0;
    index_t at_least = 0;
    for (double x : v) {
        ss += (x - mean) * (x - mean);
        at_least += x >= observed ? 1 : 0;
    }
    s.mean = mean;
    s.sd = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : nan;
    s.z = s.sd > 0 ? (observed - mean) / s.sd : nan;
    s.p_value = double(1 + at_least) / double(1 + v.size());
    return s;
}

std::vector<index_t> bootstrap_weights(const std::vector<index_t>& block_counts, std::uint64_t seed,
                                       index_t replicate) {
    std::vector<index_t> filled;
    for (size_t b = 0; b < block_counts.size(); ++b)
        if (block_counts[b] > 0) filled.push_back(index_t(b));
    std::vector<index_t> w(block_counts.size(), 0);
    if (filled.empty()) return w;
    std::mt19937_64 rng(resampling_seed(seed, kBootstrapStream, std::uint64_t(replicate)));
    for (size_t k = 0; k < filled.size(); ++k) ++w[size_t(filled[size_t(draw_below(rng, index_t(filled.size())))])];
    return w;
}

std::vector<index_t> seeded_permutation(index_t n, std::uint64_t seed) {
    std::vector<index_t> p(size_t(std::max<index_t>(0, n)));
    for (index_t i = 0; i < n; ++i) p[size_t(i)] = i;
    std::mt19937_64 rng(seed);
    for (index_t i = n - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(draw_below(rng, i + 1))]);
    return p;
}

std::pair<std::vector<index_t>, std::vector<index_t>> holdout_weights(const std::vector<index_t>& block_counts,
                                                                      double fraction, std::uint64_t seed) {
    std::vector<index_t> filled;
    for (size_t b = 0; b < block_counts.size(); ++b)
        if (block_counts[b] > 0) filled.push_back(index_t(b));
    const index_t m = index_t(filled.size());
    const index_t scored = std::min<index_t>(std::max<index_t>(1, index_t(std::llround(fraction * double(m)))), m - 1);
    CVG_REQUIRE(m >= 2 && scored >= 1, BadData,
                "held-out scoring needs at least 2 non-empty image blocks (have " + std::to_string(m) + ")");
    const std::vector<index_t> order = seeded_permutation(m, resampling_seed(seed, kHoldoutStream, 0));
    std::vector<index_t> fit(block_counts.size(), 0), score(block_counts.size(), 0);
    for (index_t k = 0; k < m; ++k) (k < scored ? score : fit)[size_t(filled[size_t(order[size_t(k)])])] = 1;
    return {fit, score};
}

namespace {

// Table 1's overlap ratio, held out: the fraction of units whose partner in
// the matching chosen on the fit part is still their best partner
// (semi-matching) on the held-out part's similarities (row-major, q
// columns); in-sample it is the usual overlap ratio.
double held_out_overlap(const Alignment& al, const std::vector<double>& score, index_t q) {
    index_t same = 0, n = 0;
    for (size_t i = 0; i < al.matching.column.size(); ++i) {
        const index_t c = al.matching.column[i];
        if (c < 0 || al.semi.column[i] < 0) continue;
        const double* row = score.data() + i * size_t(q);
        same += std::max_element(row, row + q) - row == c;
        ++n;
    }
    return n > 0 ? double(same) / double(n) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

HoldoutScores holdout_scores(const Backend& backend, const LayerStatistics& fit, const LayerStatistics& score, int a,
                             int b, const HoldoutOptions& options) {
    HoldoutScores h;
    const index_t p = fit.block_widths[size_t(a)], q = fit.block_widths[size_t(b)];
    const std::vector<double> fit_corr = fit.correlation_block(a, b), score_corr = score.correlation_block(a, b);
    const Alignment al = align_nets(backend, fit_corr.data(), fit, a, b, options.include_dead_units);
    // The same rows and columns, scored on the other images.
    const auto held = [&](const std::vector<index_t>& column) {
        double sum = 0;
        index_t n = 0;
        for (index_t i = 0; i < p; ++i) {
            const index_t c = column[size_t(i)];
            if (c < 0) continue;
            sum += score_corr[size_t(i * q + c)];
            ++n;
        }
        return n > 0 ? sum / double(n) : std::numeric_limits<double>::quiet_NaN();
    };
    h.in_sample = {{"semi_matching_mean", al.semi.mean}, {"matching_mean", al.matching.mean},
                   {"overlap_ratio", al.overlap_ratio}};
    h.held_out = {{"semi_matching_mean", held(al.semi.column)}, {"matching_mean", held(al.matching.column)},
                  {"overlap_ratio", held_out_overlap(al, score_corr, q)}};
    if (!options.sparse_prediction) return h;
    // Sec. 4 few-to-one: weights fit on one part; the held-out loss of the
    // standardised target is 0.5 (1 - 2 w'r + w'R w) with the score part's
    // correlations r (target vs predictors) and R (between predictors).
    SparsePredictionOptions so;
    if (!options.lasso_alphas.empty()) so.alphas = options.lasso_alphas;
    so.tol = options.lasso_tol;
    so.max_iter = options.lasso_max_iter;
    so.keep_weights = true;
    const SparsePredictionResult sp = sparse_prediction(fit, a, b, so);
    const std::vector<double> rbb = score.correlation_block(b, b);
    h.lasso_alphas = sp.alphas;
    h.lasso_loss_in_sample = sp.mean_loss;
    for (size_t k = 0; k < sp.alphas.size(); ++k) {
        const std::vector<double>& w = sp.weights[k];
        double sum = 0;
        index_t n = 0;
        std::vector<index_t> nz;
        for (index_t t = 0; t < p; ++t) {
            if (sp.dead_target[size_t(t)]) continue;
            nz.clear();
            for (index_t j = 0; j < q; ++j)
                if (w[size_t(t * q + j)] != 0) nz.push_back(j);
            double cross = 0, quad = 0;
            for (index_t j : nz) {
                const double wj = w[size_t(t * q + j)];
                cross += wj * score_corr[size_t(t * q + j)];
                for (index_t k2 : nz) quad += wj * w[size_t(t * q + k2)] * rbb[size_t(j * q + k2)];
            }
            sum += 0.5 * (1.0 - 2.0 * cross + quad);
            ++n;
        }
        h.lasso_loss_held_out.push_back(n > 0 ? sum / double(n) : std::numeric_limits<double>::quiet_NaN());
    }
    return h;
}

void mi_holdout_scores(const Backend& backend, const std::vector<BinnedUnits>& fit_codes,
                       const std::vector<BinnedUnits>& score_codes, const LayerStatistics& fit, int a, int b,
                       bool include_dead_units, HoldoutScores& h) {
    const std::vector<double> fit_mi = mutual_information_matrix(backend, fit_codes[size_t(a)], fit_codes[size_t(b)]);
    const std::vector<double> score_mi =
        mutual_information_matrix(backend, score_codes[size_t(a)], score_codes[size_t(b)]);
    const Alignment al = align_nets(backend, fit_mi.data(), fit, a, b, include_dead_units);
    const index_t q = fit_codes[size_t(b)].units;
    const auto held = [&](const std::vector<index_t>& column) {
        double sum = 0;
        index_t n = 0;
        for (size_t i = 0; i < column.size(); ++i) {
            if (column[i] < 0) continue;
            sum += score_mi[i * size_t(q) + size_t(column[i])];
            ++n;
        }
        return n > 0 ? sum / double(n) : std::numeric_limits<double>::quiet_NaN();
    };
    h.in_sample.emplace_back("mi_semi_matching_mean", al.semi.mean);
    h.in_sample.emplace_back("mi_matching_mean", al.matching.mean);
    h.held_out.emplace_back("mi_semi_matching_mean", held(al.semi.column));
    h.held_out.emplace_back("mi_matching_mean", held(al.matching.column));
    h.in_sample.emplace_back("mi_overlap_ratio", al.overlap_ratio);
    h.held_out.emplace_back("mi_overlap_ratio", held_out_overlap(al, score_mi, q));
}

LayerStatistics permuted_statistics(const Backend& backend, const std::vector<const LayerSource*>& sources,
                                    std::uint64_t seed, index_t replicate, index_t chunk_images,
                                    const std::vector<const float*>& cached,
                                    const std::vector<index_t>& sample_rows, std::vector<float>* sample_values) {
    CVG_REQUIRE(cached.empty() || cached.size() == sources.size(), InvalidArgument,
                "permuted_statistics: one cached layer (or nullptr) per source");
    CVG_REQUIRE(!sources.empty(), InvalidArgument, "permuted_statistics: no sources");
    const LayerSource& first = *sources.front();
    const index_t images = first.images(), positions = first.positions();
    std::vector<index_t> widths;
    std::vector<std::string> names;
    index_t t = 0;
    for (const LayerSource* s : sources) {
        widths.push_back(s->units());
        names.push_back(s->net_name());
        t += s->units();
    }
    std::vector<std::vector<index_t>> order(sources.size());
    for (size_t n = 1; n < sources.size(); ++n)
        order[n] = seeded_permutation(images, resampling_seed(seed, kPermutationStream, std::uint64_t(replicate) * 1024 + n));
    MomentAccumulator acc(widths, first.layer_name(), names);
    chunk_images = std::max<index_t>(1, std::min(chunk_images, images));
    std::vector<float> rows, piece;
    const std::string what = "layer '" + first.layer_name() + "'";
    resize_or_fail(rows, size_t(chunk_images * positions * t), what, "a permutation replicate's chunk");
    if (sample_values) resize_or_fail(*sample_values, sample_rows.size() * size_t(t), what,
                                      "a permutation replicate's mutual-information sample");
    size_t next_sample = 0;  // sample_rows is sorted: the first not yet gathered
    for (index_t i0 = 0; i0 < images; i0 += chunk_images) {
        const index_t count = std::min(chunk_images, images - i0);
        index_t column = 0;
        for (size_t n = 0; n < sources.size(); ++n) {
            const index_t u = sources[n]->units();
            const index_t per_image = positions * u;
            if (piece.size() < size_t(count * per_image)) piece.resize(size_t(count * per_image));
            const float* memory = cached.empty() ? nullptr : cached[n];
            if (memory) {
                for (index_t i = 0; i < count; ++i) {
                    const index_t image = n == 0 ? i0 + i : order[n][size_t(i0 + i)];
                    std::copy(memory + image * per_image, memory + (image + 1) * per_image,
                              piece.begin() + i * per_image);
                }
            } else if (n == 0) {
                sources[n]->read_images(i0, count, piece.data());
            } else {
                for (index_t i = 0; i < count; ++i)
                    sources[n]->read_images(order[n][size_t(i0 + i)], 1, piece.data() + i * per_image);
            }
            for (index_t r = 0; r < count * positions; ++r)
                std::copy(piece.begin() + r * u, piece.begin() + (r + 1) * u, rows.begin() + r * t + column);
            column += u;
        }
        if (sample_values) {
            const index_t row0 = i0 * positions, row_end = (i0 + count) * positions;
            for (; next_sample < sample_rows.size() && sample_rows[next_sample] < row_end; ++next_sample) {
                const index_t r = sample_rows[next_sample] - row0;
                CVG_REQUIRE(r >= 0, InvalidArgument, what + ": the sample rows are not sorted");
                std::copy(rows.begin() + r * t, rows.begin() + (r + 1) * t,
                          sample_values->begin() + index_t(next_sample) * t);
            }
        }
        acc.push(backend, rows.data(), count * positions, t);
    }
    CVG_REQUIRE(!sample_values || next_sample == sample_rows.size(), InvalidArgument,
                what + ": sample rows beyond the layer's " + std::to_string(images * positions) + " rows");
    return finalize_statistics(std::move(acc));
}

}  // namespace convergent
