// Run-level step: layer x layer linear CKA maps across nets (Nguyen, Raghu &
// Kornblith 2021, Sec. 3.1, minibatch unbiased HSIC), for every net pair
// a < b and each net with itself. The nets need not share layers.
#include "analysis_step.hpp"
#include "convergent/cross_layers.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

std::vector<std::vector<const LayerSource*>> selected_sources(const std::vector<NetSource>& nets,
                                                              const CompareOptions& options) {
    std::vector<std::vector<const LayerSource*>> sources;
    for (const NetSource& net : nets) {
        sources.emplace_back();
        for (const std::string& l : run_layers(net, options)) sources.back().push_back(&net.layer(l));
    }
    return sources;
}

std::vector<std::string> names_of(const std::vector<NetSource>& nets) {
    std::vector<std::string> names;
    for (const NetSource& net : nets) names.push_back(net.name());
    return names;
}

void check(const std::vector<NetSource>& nets, const CompareOptions& options) {
    check_cross_layer_inputs(names_of(nets), selected_sources(nets, options));
}

void run(RunContext& ctx) {
    const std::vector<std::string> names = names_of(ctx.nets());
    const CrossLayerResult result =
        cross_layer_cka(ctx.backend(), names, selected_sources(ctx.nets(), ctx.options()),
                        ctx.options().cross_layers.batch_size, [&](double f) { ctx.report("cross_layers", f); });
    nlohmann::json j = cross_layers_to_json(result);
    for (const CrossLayerMap& m : result.maps) {
        const std::string key = names[size_t(m.a)] + "~" + names[size_t(m.b)];
        ctx.write_array("cross_layers", key + ".cka.npy", std::vector<float>(m.cka.begin(), m.cka.end()),
                        {m.rows, m.cols});
        j["maps"][key]["file"] = "cross_layers/" + key + ".cka.npy";
    }
    ctx.summary()["cross_layers"] = std::move(j);
}

}  // namespace

RunStep cross_layers_step() {
    return {"cross_layers",
            "layer x layer linear CKA maps across nets, minibatch unbiased HSIC (Nguyen et al. 2021, Sec. 3.1)",
            [](const CompareOptions& o) { return o.cross_layers.enabled; }, check, run};
}

}  // namespace convergent
