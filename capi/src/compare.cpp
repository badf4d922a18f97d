// C ABI: result export, the whole `convergent compare` pipeline.
#include "capi_internal.hpp"
#include "convergent/compare.hpp"

using namespace convergent;

extern "C" {

int cvg_compare(const char* const* inputs, int32_t n_inputs, const char* out_dir, const cvg_options* opts) {
    return capi::translate_exceptions("cvg_compare", [&] {
        CVG_ARG(inputs != nullptr, "inputs is NULL");
        CVG_ARG(n_inputs >= 2, "n_inputs = " + std::to_string(n_inputs) + ": compare needs at least two nets");
        std::vector<std::string> paths;
        for (int32_t i = 0; i < n_inputs; ++i) {
            CVG_ARG(inputs[i] != nullptr, "inputs[" + std::to_string(i) + "] is NULL");
            CVG_ARG(inputs[i][0] != '\0', "inputs[" + std::to_string(i) + "] is empty");
            paths.emplace_back(inputs[i]);
        }
        CVG_ARG(out_dir != nullptr, "out_dir is NULL");
        CVG_ARG(out_dir[0] != '\0', "out_dir is empty");
        run_compare(paths, out_dir, capi::options_or_defaults(opts).compare);
    });
}

}  // extern "C"
