// Uncertainty of the headline figures of every net pair (docs/resampling.md):
// bootstrap percentile intervals and held-out scores from the per-block
// moments gathered in the layer pass (no second read), and a permutation
// null from extra passes over the layer with the images of every net but the
// first in a seeded random order. Figures: Table 1 (Sec. 3.1), the
// whole-layer indices computable from the covariances and, when the MI step
// runs, Table 1 on the MI matrix of the sample rows (Sec. 3.2).
#include <cmath>
#include <filesystem>

#include "analysis_step.hpp"
#include "convergent/resampling.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

index_t block_count(const CompareOptions& options, index_t images) {
    return images > 0 ? std::min(options.resampling.blocks, images) : options.resampling.blocks;
}

bool needs_blocks(const CompareOptions& o) { return o.resampling.bootstrap > 0 || o.resampling.holdout > 0; }

void request(const CompareOptions& o, LayerPassRequest& r) {
    if (needs_blocks(o)) r.resampling_blocks = o.resampling.blocks;
}

FigureOptions figure_options(const CompareOptions& o) {
    FigureOptions f;
    f.include_dead_units = o.matching.include_dead_units;
    f.indices = o.similarity_indices.enabled;
    f.similarity = similarity_indices_options(o);
    return f;
}

using Pair = std::pair<int, int>;

// The name a --baseline-nets entry gets as an input (NAME=PATH, else the
// directory's name or the file's stem, as NetSource::open names nets).
std::string reference_name(const std::string& text) {
    const NetInput in = parse_net_input(text);
    if (!in.name.empty()) return in.name;
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path p(in.path);
    if (fs::is_directory(p, ec)) return fs::weakly_canonical(p, ec).filename().string();
    return p.stem().string();
}

void run(LayerContext& ctx) {
    const CompareOptions& o = ctx.options();
    const ResamplingStepOptions& ro = o.resampling;
    LayerData& d = ctx.data();
    const FigureOptions fo = figure_options(o);
    nlohmann::json& meta = ctx.layer_json()["resampling"];
    meta = {{"seed", o.seed}, {"bootstrap", ro.bootstrap}, {"confidence", ro.confidence}, {"holdout", ro.holdout},
            {"permutations", ro.permutations}};

    // The MI figures (Sec. 3.2) when the MI step ran: its binned sample rows.
    const std::vector<BinnedUnits>* mi_codes =
        ctx.has_result("mutual_information") && !d.mi_rows.empty()
            ? &ctx.result<std::vector<BinnedUnits>>("mutual_information")
            : nullptr;
    const auto with_mi = [&](NamedFigures f, const std::vector<BinnedUnits>& codes, const LayerStatistics& st,
                             const Pair& p) {
        if (!mi_codes) return f;
        for (auto& v : mi_pair_figures(ctx.backend(), codes, st, p.first, p.second, fo.include_dead_units))
            f.push_back(std::move(v));
        return f;
    };

    std::vector<Pair> pairs;
    std::map<Pair, NamedFigures> estimate;
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a + 1; b < ctx.nets(); ++b) {
            pairs.emplace_back(a, b);
            estimate[{a, b}] = pair_figures(ctx.backend(), ctx.stats(), a, b, fo);
            if (mi_codes) estimate[{a, b}] = with_mi(std::move(estimate[{a, b}]), *mi_codes, ctx.stats(), {a, b});
        }
    nlohmann::json names = nlohmann::json::array();
    for (const auto& [name, value] : estimate.begin()->second) names.push_back(name);
    meta["figures"] = names;
    const size_t figures = names.size();

    // Reference nets (--baseline-nets) are the last ones of the run; each
    // pair says whether it is a compared pair, a compared net against a
    // reference, or a reference pair (the chance baseline of the first kind).
    const int references = int(o.resampling.baseline_nets.size());
    if (references > 0) {
        CVG_REQUIRE(references < ctx.nets(), InvalidArgument,
                    "--baseline-nets: " + std::to_string(references) + " reference nets but only " +
                        std::to_string(ctx.nets()) + " nets in the run; the reference nets follow the compared ones");
        nlohmann::json list = nlohmann::json::array();
        for (int n = ctx.nets() - references; n < ctx.nets(); ++n) {
            const std::string& text = o.resampling.baseline_nets[size_t(n - (ctx.nets() - references))];
            // Only the CLI and cvg_compare append them; elsewhere (arrays,
            // sessions) the last nets are not the references.
            CVG_REQUIRE(reference_name(text) == ctx.net_name(n), InvalidArgument,
                        "--baseline-nets: reference net '" + text + "' is not among the last nets of the run (net '" +
                            ctx.net_name(n) + "' is); the option takes files (CLI, cvg_compare); with arrays or "
                            "batched pushes pass reference nets as ordinary nets");
            list.push_back(ctx.net_name(n));
        }
        meta["baseline_nets"] = list;
        const int first = ctx.nets() - references;
        for (const Pair& p : pairs)
            ctx.pair_json(p.first, p.second)["resampling"]["kind"] =
                p.first >= first ? "baseline" : p.second >= first ? "net~baseline" : "nets";
    }

    const bool blocks_ready = needs_blocks(o) && d.blocks_unavailable.empty() && !d.blocks.empty();
    if (needs_blocks(o)) {
        meta["blocks"] = d.blocks.blocks();
        meta["block_assignment"] = "seeded hash of the image index";
        meta["memory_bytes"] = resampling_memory_bytes(o, d.blocks.width(), d.images);
        index_t filled = 0;
        for (index_t c : d.blocks.counts()) filled += c > 0 ? 1 : 0;
        meta["nonempty_blocks"] = filled;
        // The blocks must hold every sample of the statistics (a run whose
        // pass was split over processes reduces the moments, not the blocks).
        index_t covered = 0;
        for (index_t c : d.blocks.counts()) covered += c;
        CVG_REQUIRE(!blocks_ready || covered == ctx.stats().samples, Unsupported,
                    "layer '" + d.layer + "': the bootstrap / held-out block moments cover " + std::to_string(covered) +
                        " of " + std::to_string(ctx.stats().samples) +
                        " samples (a distributed run does not reduce them yet); run --bootstrap / --holdout in one "
                        "process");
        if (!blocks_ready) meta["unavailable"] = d.blocks_unavailable.empty() ? "no block moments" : d.blocks_unavailable;
    }

    // ---- bootstrap: replicate r merges the blocks with multinomial counts.
    if (ro.bootstrap > 0 && blocks_ready) {
        std::map<Pair, std::vector<std::vector<double>>> values;  // [figure][replicate]
        std::map<Pair, std::vector<std::vector<double>>> semi_curves, matching_curves;  // Fig. 3, [replicate][rank]
        for (const Pair& p : pairs) values[p].assign(figures, {});
        for (index_t r = 0; r < ro.bootstrap; ++r) {
            const std::vector<index_t> w = bootstrap_weights(d.blocks.counts(), o.seed, r);
            const LayerStatistics st = d.blocks.statistics(w);
            // The MI sample rows weighted by their image's block count, on
            // the real run's bin edges (the codes are not binned again).
            std::vector<BinnedUnits> mi_replicate;
            if (mi_codes) {
                const std::vector<index_t> rw = sample_row_weights(d.blocks, d.mi_rows, d.positions, w);
                for (const BinnedUnits& c : *mi_codes) mi_replicate.push_back(repeat_samples(c, rw));
            }
            for (const Pair& p : pairs) {
                Fig3Curves curves;
                const NamedFigures f =
                    with_mi(pair_figures(ctx.backend(), st, p.first, p.second, fo, &curves), mi_replicate, st, p);
                for (size_t k = 0; k < figures; ++k) values[p][k].push_back(f[k].second);
                semi_curves[p].push_back(std::move(curves.semi_matching));
                matching_curves[p].push_back(std::move(curves.matching));
            }
        }
        for (const Pair& p : pairs) {
            nlohmann::json j = nlohmann::json::object();
            std::vector<float> table;  // replicates x figures, for the report
            for (index_t r = 0; r < ro.bootstrap; ++r)
                for (size_t k = 0; k < figures; ++k) table.push_back(float(values[p][k][size_t(r)]));
            for (size_t k = 0; k < figures; ++k)
                j[estimate[p][k].first] =
                    bootstrap_interval_to_json(bootstrap_interval(estimate[p][k].second, values[p][k], ro.confidence));
            nlohmann::json& pj = ctx.pair_json(p.first, p.second)["resampling"];
            pj["bootstrap"] = std::move(j);
            // Fig. 3 bands: per rank of the sorted semi-matching curve.
            pj["fig3_band"] = {{"semi_matching", curve_band_to_json(curve_band(semi_curves[p], ro.confidence))},
                               {"matching", curve_band_to_json(curve_band(matching_curves[p], ro.confidence))}};
            ctx.write_pair_array(p.first, p.second, "bootstrap", table, {ro.bootstrap, index_t(figures)});
        }
    }

    // ---- held-out: chosen on the fit blocks, scored on the others.
    if (ro.holdout > 0 && blocks_ready) {
        CVG_REQUIRE(meta["nonempty_blocks"].get<index_t>() >= 2, BadData,
                    "layer '" + d.layer + "': --holdout needs at least 2 non-empty image blocks (" +
                        std::to_string(d.images) + " images in " + std::to_string(d.blocks.blocks()) + " blocks)");
        const auto [fit_w, score_w] = holdout_weights(d.blocks.counts(), ro.holdout, o.seed);
        const LayerStatistics fit = d.blocks.statistics(fit_w), score = d.blocks.statistics(score_w);
        HoldoutOptions ho;
        ho.include_dead_units = o.matching.include_dead_units;
        ho.sparse_prediction = o.sparse_prediction.enabled;
        ho.lasso_alphas = o.sparse_prediction.alphas;
        ho.lasso_tol = o.sparse_prediction.tol;
        ho.lasso_max_iter = int(o.sparse_prediction.max_iter);
        // The MI sample rows of each part (0/1 weights), on the real edges.
        std::vector<BinnedUnits> mi_fit, mi_score;
        if (mi_codes) {
            const std::vector<index_t> fit_rows = sample_row_weights(d.blocks, d.mi_rows, d.positions, fit_w),
                                       score_rows = sample_row_weights(d.blocks, d.mi_rows, d.positions, score_w);
            for (const BinnedUnits& c : *mi_codes) {
                mi_fit.push_back(repeat_samples(c, fit_rows));
                mi_score.push_back(repeat_samples(c, score_rows));
            }
        }
        for (const Pair& p : pairs) {
            HoldoutScores h = holdout_scores(ctx.backend(), fit, score, p.first, p.second, ho);
            if (mi_codes)
                mi_holdout_scores(ctx.backend(), mi_fit, mi_score, fit, p.first, p.second, ho.include_dead_units, h);
            nlohmann::json j = holdout_scores_to_json(h);
            j["fit_samples"] = fit.samples;
            j["score_samples"] = score.samples;
            if (mi_codes) {
                j["mi_fit_samples"] = mi_fit.front().samples;
                j["mi_score_samples"] = mi_score.front().samples;
            }
            // The clusters (Sec. 4) chosen on the fit part, their Sec. 6.6
            // similarities scored on the held-out part.
            if (o.clustering.enabled) {
                const ClusterHoldout c = cluster_holdout(ctx.backend(), fit, score, p.first, p.second,
                                                         clustering_options(o));
                j["clusters"] = cluster_holdout_to_json(c);
            }
            ctx.pair_json(p.first, p.second)["resampling"]["holdout"] = std::move(j);
        }
    }

    // ---- permutation null: one more pass per replicate.
    if (ro.permutations > 0) {
        CVG_REQUIRE(!d.sources.empty(), Unsupported,
                    "layer '" + d.layer + "': the permutation null needs to read the layer again, which batched "
                    "pushes do not allow; compare files or in-memory arrays");
        // Each net's layer in memory once for all replicates when it fits
        // (half the memory budget): the replicates then read nothing, and a
        // deflated .npz member is not decompressed again for every image
        // read out of order. Otherwise every replicate reads the sources.
        double bytes = 0;
        for (const LayerSource* s : d.sources) bytes += 4.0 * double(s->samples()) * double(s->units());
        const double budget = o.max_memory_mb > 0 ? 0.5 * double(o.max_memory_mb) * 1048576.0 : 2.0 * 1073741824.0;
        std::vector<std::vector<float>> layers;
        std::vector<const float*> cached;
        if (bytes <= budget) {
            for (const LayerSource* s : d.sources) {
                layers.emplace_back(size_t(s->samples() * s->units()));
                s->read_images(0, s->images(), layers.back().data());
                cached.push_back(layers.back().data());
            }
        }
        meta["permutation_layers_in_memory"] = !cached.empty();
        std::map<Pair, std::vector<std::vector<double>>> values;
        for (const Pair& p : pairs) values[p].assign(figures, {});
        const BinningOptions bopt = binning_options(o);
        std::vector<float> mi_values;
        for (index_t r = 0; r < ro.permutations; ++r) {
            const LayerStatistics st = permuted_statistics(ctx.backend(), d.sources, o.seed, r, d.chunk_images, cached,
                                                           d.mi_rows, mi_codes ? &mi_values : nullptr);
            // The same sample rows, net b's from the permuted images, binned
            // by the same rule (the edges follow the values in those rows).
            // The first net's rows are not permuted: its real codes.
            std::vector<BinnedUnits> mi_replicate;
            if (mi_codes)
                for (int n = 0; n < ctx.nets(); ++n)
                    mi_replicate.push_back(n == 0 ? (*mi_codes)[0]
                                                  : bin_units(mi_values.data() + st.block_offsets[size_t(n)],
                                                              index_t(d.mi_rows.size()), ctx.width(n), st.width(),
                                                              bopt));
            for (const Pair& p : pairs) {
                const NamedFigures f = with_mi(pair_figures(ctx.backend(), st, p.first, p.second, fo), mi_replicate, st, p);
                for (size_t k = 0; k < figures; ++k) values[p][k].push_back(f[k].second);
            }
        }
        for (const Pair& p : pairs) {
            nlohmann::json j = nlohmann::json::object();
            std::vector<float> table;
            for (index_t r = 0; r < ro.permutations; ++r)
                for (size_t k = 0; k < figures; ++k) table.push_back(float(values[p][k][size_t(r)]));
            for (size_t k = 0; k < figures; ++k)
                j[estimate[p][k].first] = null_summary_to_json(null_summary(estimate[p][k].second, values[p][k]));
            ctx.pair_json(p.first, p.second)["resampling"]["permutation_null"] = std::move(j);
            ctx.write_pair_array(p.first, p.second, "permutation_null", table, {ro.permutations, index_t(figures)});
        }
    }
}

}  // namespace

double resampling_memory_bytes(const CompareOptions& options, index_t width, index_t images) {
    if (!needs_blocks(options)) return 0;
    return block_moments_bytes(width, block_count(options, images));
}

std::string resampling_memory_note(const CompareOptions& options, index_t width, index_t images) {
    return std::to_string(block_count(options, images)) + " blocks x " + std::to_string(width) + "^2 float64";
}

AnalysisStep resampling_step() {
    return {"resampling",
            "bootstrap intervals, held-out scores and permutation nulls of Table 1 (Sec. 3.1), the similarity "
            "indices and the MI matching (Sec. 3.2)",
            nullptr, [](const CompareOptions& o) { return o.resampling.enabled(); }, request, run};
}

}  // namespace convergent
