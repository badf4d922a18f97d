// Sec. 3.2: histogram mutual information between every pair of units (the
// footnote 6 discretisation on the seeded sample rows the layer pass
// gathered) and the same one-to-one alignment on it; the Fig. 2 vs Fig. 4
// check of how many of the 8 best pairs agree with correlation.
#include <algorithm>
#include <set>

#include "analysis_step.hpp"
#include "convergent/matching.hpp"
#include "convergent/mutual_information.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

// How many of the `top` best semi-matched (row, column) pairs by correlation
// are also among the `top` best by mutual information.
int top_pairs_overlap(const SemiMatching& x, const SemiMatching& y, size_t top) {
    auto best = [top](const SemiMatching& m) {
        std::vector<index_t> rows;  // rows with a match (dead rows have none)
        for (size_t i = 0; i < m.column.size(); ++i)
            if (m.column[i] >= 0) rows.push_back(index_t(i));
        std::stable_sort(rows.begin(), rows.end(),
                         [&](index_t i, index_t j) { return m.value[size_t(i)] > m.value[size_t(j)]; });
        std::set<std::pair<index_t, index_t>> pairs;
        for (size_t i = 0; i < std::min(top, rows.size()); ++i) pairs.insert({rows[i], m.column[size_t(rows[i])]});
        return pairs;
    };
    const auto p = best(x), q = best(y);
    int common = 0;
    for (const auto& pair : p) common += int(q.count(pair));
    return common;
}

void run(LayerContext& ctx) {
    LayerData& d = ctx.data();
    const LayerStatistics& stats = ctx.stats();
    const BinningOptions bopt = binning_options(ctx.options());
    const index_t rows = index_t(d.mi_rows.size());
    const index_t width = stats.width();
    std::vector<BinnedUnits> binned;
    for (int n = 0; n < ctx.nets(); ++n)
        binned.push_back(bin_units(d.mi_values.data() + stats.block_offsets[size_t(n)], rows, ctx.width(n), width, bopt));
    d.mi_values = {};  // the codes are all that is needed from here on

    // The share of each net's sampled values in the zero bin: what the
    // sparse-aware counting skips, so the figure that explains its speed.
    std::vector<double> zero_fraction;
    for (const BinnedUnits& b : binned) zero_fraction.push_back(zero_bin_fraction(b));
    ctx.layer_json()["mutual_information"] =
        mi_layer_to_json(zero_fraction, ctx.data().nets, rows, binned.empty() ? 0 : binned.front().bins);

    const auto& corr = ctx.result<PairResults<Alignment>>("correlation_matching");
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a; b < ctx.nets(); ++b) {
            const std::vector<double> mi = mutual_information_matrix(ctx.backend(), binned[size_t(a)], binned[size_t(b)]);
            ctx.write_pair_matrix(a, b, "mi", mi, ctx.width(a), ctx.width(b));
            if (a == b) continue;
            const Alignment al = align_pair(ctx, a, b, mi, "mi");
            nlohmann::json j = alignment_to_json(al);
            j["top8_overlap_with_correlation"] = top_pairs_overlap(corr.at({a, b}).semi, al.semi, 8);
            j["bins"] = binned[size_t(a)].bins;
            j["samples"] = rows;
            ctx.pair_json(a, b)["mutual_information"] = std::move(j);
        }
    // The codes and their edges, for the resampling step's MI figures (kept
    // only when it runs: otherwise they are freed here, as before).
    if (ctx.options().resampling.enabled()) ctx.publish("mutual_information", std::move(binned));
}

}  // namespace

AnalysisStep mutual_information_step() {
    return {"mutual_information", "histogram mutual information and MI matching (Sec. 3.2)", "correlation_matching",
            [](const CompareOptions& o) { return o.mutual_information.enabled; },
            [](const CompareOptions& o, LayerPassRequest& r) { r.mi_sample_rows = o.mutual_information.samples; },
            run};
}

}  // namespace convergent
