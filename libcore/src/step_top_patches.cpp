// Figs. 2, 4-7 and 12: what each unit sees. The pass gathered every unit's
// top-k inputs (topk.hpp); this step writes them per net and, given the
// input images, the patches they come from as one PNG sprite sheet per net
// (patches.hpp).
#include <algorithm>
#include <cmath>

#include "analysis_step.hpp"
#include "convergent/patches.hpp"

namespace convergent {

namespace {

constexpr index_t kJointSampleRows = 1000;

void write_joint_samples(LayerContext& ctx, nlohmann::json& out);

void request(const CompareOptions& o, LayerPassRequest& r) {
    // Checked here, before the pass reads anything.
    parse_receptive_fields(o.top_patches.receptive_field);
    CVG_REQUIRE(o.top_patches.images.size() <= 1, InvalidArgument,
                "images: one .npy path (a path holding commas is not supported)");
    r.top_k = o.top_patches.k;
    // Fig. 7's joint distributions come from the MI sample; without MI a
    // small one of its own (the MI step's size is never changed).
    if (r.mi_sample_rows == 0) r.mi_sample_rows = kJointSampleRows;
}

// Writes <layer>/<net>.joint_sample.npy: at most kJointSampleRows of the MI
// sample rows, evenly spaced in it, x the net's units, for the report's
// joint histograms of unit pairs (Fig. 7).
void write_joint_samples(LayerContext& ctx, nlohmann::json& out) {
    const LayerData& d = ctx.data();
    const index_t total = index_t(d.mi_rows.size()), width = index_t(d.stats.mean.size());
    if (total == 0) return;
    const index_t rows = std::min(total, kJointSampleRows);
    index_t column = 0;
    for (int n = 0; n < ctx.nets(); ++n) {
        const index_t w = ctx.width(n);
        std::vector<float> sample(size_t(rows * w));
        for (index_t r = 0; r < rows; ++r) {
            const index_t from = r * total / rows;
            std::copy(d.mi_values.begin() + from * width + column, d.mi_values.begin() + from * width + column + w,
                      sample.begin() + r * w);
        }
        const std::string path = d.layer + "/" + ctx.net_name(n) + ".joint_sample.npy";
        ctx.sink().write_array(path, sample.data(), {rows, w});
        out["nets"][ctx.net_name(n)]["joint_sample"] = path;
        column += w;
    }
    out["joint_sample_rows"] = rows;
}

void run(LayerContext& ctx) {
    LayerData& d = ctx.data();
    nlohmann::json& out = ctx.layer_json()["top_patches"];
    if (!d.top_k_unavailable.empty()) {
        out = {{"available", false}, {"note", d.top_k_unavailable}};
        return;
    }
    const TopKAccumulator& acc = d.top_k;
    const index_t k = acc.k();
    const TopKAccumulator::Lists lists = acc.lists();
    const std::vector<std::int64_t>& images = lists.images;
    const std::vector<std::int64_t>& positions = lists.positions;
    const std::vector<float>& values = lists.values;
    const CompareOptions& o = ctx.options();
    const std::map<std::string, ReceptiveField> fields = parse_receptive_fields(o.top_patches.receptive_field);
    const auto field_it = fields.find(d.layer);
    // An explicit --receptive-field for the layer, else the one stored with
    // the activations (NetSource::receptive_fields); dense layers see the
    // whole image.
    const ReceptiveField* field = nullptr;
    ReceptiveField stored;
    const char* origin = nullptr;
    if (d.positions > 1 && field_it != fields.end()) {
        field = &field_it->second, origin = "option";
    } else if (d.positions > 1 && d.stored_receptive_field[0] > 0) {
        stored = {d.stored_receptive_field[0], d.stored_receptive_field[1], d.stored_receptive_field[2]};
        field = &stored, origin = "activation files";
    }
    out = {{"available", true},
           {"k", k},
           {"positions", d.positions},
           {"map_width", d.map_width},
           {"order", "per unit best first: higher value, then lower input index; a conv unit's value for an input "
                     "is its maximum over positions (the first position on equal values)"},
           {"receptive_field", field ? nlohmann::json{{"size", field->size},
                                                      {"stride", field->stride},
                                                      {"padding", field->padding}}
                                     : nlohmann::json(nullptr)},
           {"receptive_field_origin", origin ? nlohmann::json(origin) : nlohmann::json(nullptr)},
           {"nets", nlohmann::json::object()}};
    Images pictures;
    const bool with_patches = !o.top_patches.images.empty();
    if (with_patches) {
        // Only the images some unit's top k holds (units x k x nets at most).
        pictures = load_images(o.top_patches.images.front(), &images);
        CVG_REQUIRE(pictures.count == d.images, BadData,
                    "images '" + o.top_patches.images.front() + "' holds " + std::to_string(pictures.count) +
                        " images but layer '" + d.layer + "' has " + std::to_string(d.images) +
                        " inputs; pass the images the activations were computed on, in the same order");
        out["patch"] = {{"height", field ? field->size : pictures.height},
                        {"width", field ? field->size : pictures.width},
                        {"channels", pictures.channels},
                        {"images", o.top_patches.images.front()}};
    }
    index_t column = 0;
    for (int n = 0; n < ctx.nets(); ++n) {
        const index_t w = ctx.width(n);
        const auto slice = [&](const auto& all) {
            using V = typename std::decay_t<decltype(all)>::value_type;
            return std::vector<V>(all.begin() + column * k, all.begin() + (column + w) * k);
        };
        const std::vector<std::int64_t> net_images = slice(images);
        std::vector<std::int64_t> net_positions = slice(positions);
        const std::string stem = d.layer + "/" + ctx.net_name(n);
        ctx.sink().write_index_array(stem + ".topk.npy", net_images.data(), {w, k});
        ctx.sink().write_array(stem + ".topk_values.npy", slice(values).data(), {w, k});
        ctx.sink().write_index_array(stem + ".topk_positions.npy", net_positions.data(), {w, k});
        nlohmann::json files = {{"topk", stem + ".topk.npy"},
                                {"values", stem + ".topk_values.npy"},
                                {"positions", stem + ".topk_positions.npy"}};
        if (with_patches) {
            const SpriteSheet sheet = patch_sprite_sheet(pictures, field, d.map_width, net_images, net_positions, w, k);
            ctx.sink().write_file(stem + ".patches.png", encode_png(sheet));
            files["patches"] = stem + ".patches.png";
        }
        out["nets"][ctx.net_name(n)] = std::move(files);
        column += w;
    }
    write_joint_samples(ctx, out);
}

}  // namespace

AnalysisStep top_patches_step() {
    return {"top_patches", "each unit's top-k inputs and their image patches (Figs. 2, 4-7, 12)", nullptr,
            [](const CompareOptions& o) { return o.top_patches.enabled; }, request, run};
}

}  // namespace convergent
