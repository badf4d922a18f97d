// C ABI: Sec. 3.2 mutual information (footnote 6 binning, plug-in MI).
#include "capi_internal.hpp"
#include "convergent/mutual_information.hpp"

using namespace convergent;

struct cvg_binned {
    BinnedUnits binned;
};

namespace {
void check_binned(const cvg_binned* b, const char* name) {
    capi::require_live(b, capi::HandleKind::Binned, name);
}

void check_mutual_information_args(const cvg_binned* a, const cvg_binned* b, double* out, int64_t ld,
                                   int32_t layout) {
    check_binned(a, "a");
    check_binned(b, "b");
    const index_t rows = a->binned.units, cols = b->binned.units;
    CVG_ARG(out != nullptr, "out is NULL");
    capi::check_matrix(out, rows, cols, ld, layout, "out");
    CVG_ARG(a->binned.samples == b->binned.samples,
            "a has " + std::to_string(a->binned.samples) + " samples but b has " +
                std::to_string(b->binned.samples) + ": bin the same sample rows of both nets");
    CVG_ARG(a->binned.bins == b->binned.bins, "a has " + std::to_string(a->binned.bins) +
                                                  " bins but b has " + std::to_string(b->binned.bins));
}

void mutual_information_into(const Backend& backend, const cvg_binned* a, const cvg_binned* b, double* out,
                             int64_t ld, int32_t layout) {
    const std::vector<double> mi = mutual_information_matrix(backend, a->binned, b->binned);
    capi::write_matrix(mi.data(), a->binned.units, b->binned.units, out, ld, layout, "out");
}
}  // namespace

extern "C" {

int cvg_sample_rows(int64_t total_rows, int64_t count, int64_t seed, int64_t* out) {
    return capi::translate_exceptions("cvg_sample_rows", [&] {
        CVG_ARG(total_rows >= 0, "total_rows is negative");
        CVG_ARG(count >= 0, "count is negative");
        const int64_t n = count < total_rows ? count : total_rows;
        CVG_ARG(out != nullptr || n == 0, "out is NULL");
        const std::vector<index_t> rows = sample_rows(total_rows, count, std::uint64_t(seed));
        std::copy(rows.begin(), rows.end(), out);
    });
}

int cvg_bin_units(cvg_binned** out, const float* values, int64_t samples, int64_t units, int64_t ld,
                  int32_t layout, const cvg_options* opts) {
    return capi::translate_exceptions("cvg_bin_units", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        const cvg_options& o = capi::options_or_defaults(opts);
        CVG_ARG(samples >= 1 && samples < (int64_t(1) << 31),
                "samples = " + std::to_string(samples) + " is outside [1, 2^31)");
        CVG_ARG(units >= 1, "units = " + std::to_string(units) + " must be >= 1");
        capi::check_matrix(values, samples, units, ld, layout, "values");
        const BinningOptions bopt = binning_options(o.compare);
        auto handle = std::make_unique<cvg_binned>();
        if (layout == CVG_ROW_MAJOR) {
            handle->binned = bin_units(values, samples, units, ld, bopt);
        } else {
            const std::vector<float> rm = capi::to_row_major(values, samples, units, ld, layout);
            handle->binned = bin_units(rm.data(), samples, units, units, bopt);
        }
        *out = capi::publish(std::move(handle), capi::HandleKind::Binned);
    });
}

void cvg_binned_destroy(cvg_binned* binned) {
    capi::destroy(binned, capi::HandleKind::Binned, "cvg_binned_destroy");
}

int cvg_binned_shape(const cvg_binned* binned, int64_t* units, int64_t* samples, int32_t* bins) {
    return capi::translate_exceptions("cvg_binned_shape", [&] {
        check_binned(binned, "binned");
        if (units) *units = binned->binned.units;
        if (samples) *samples = binned->binned.samples;
        if (bins) *bins = binned->binned.bins;
    });
}

int cvg_binned_codes(const cvg_binned* binned, int32_t* out, int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_binned_codes", [&] {
        check_binned(binned, "binned");
        const BinnedUnits& b = binned->binned;
        CVG_ARG(out != nullptr, "out is NULL");
        capi::check_matrix(out, b.samples, b.units, ld, layout, "out");
        // Stored unit-major: codes[u * samples + s] is (sample s, unit u).
        for (index_t u = 0; u < b.units; ++u)
            for (index_t s = 0; s < b.samples; ++s)
                capi::element(out, s, u, ld, layout) = int32_t(b.codes[size_t(u * b.samples + s)]);
    });
}

int cvg_binned_edges(const cvg_binned* binned, int64_t unit, int64_t* count, double* out, int64_t capacity) {
    return capi::translate_exceptions("cvg_binned_edges", [&] {
        check_binned(binned, "binned");
        const BinnedUnits& b = binned->binned;
        CVG_ARG(unit >= 0 && unit < b.units, "unit = " + std::to_string(unit) + " is out of range [0, " +
                                                 std::to_string(b.units) + ")");
        capi::fill_sized(b.edges[size_t(unit)], count, out, capacity, "edges");
    });
}

int cvg_mutual_information(const cvg_binned* a, const cvg_binned* b, int32_t backend, double* out,
                           int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_mutual_information", [&] {
        capi::backend_from_int(backend);  // an unknown id is an argument error before anything else
        check_mutual_information_args(a, b, out, ld, layout);
        mutual_information_into(*capi::default_backend(backend), a, b, out, ld, layout);
    });
}

int cvg_mutual_information_ctx(const cvg_context* ctx, const cvg_binned* a, const cvg_binned* b, double* out,
                               int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_mutual_information_ctx", [&] {
        const std::shared_ptr<const Backend>& backend = capi::context_backend(ctx);
        check_mutual_information_args(a, b, out, ld, layout);
        mutual_information_into(*backend, a, b, out, ld, layout);
    });
}

}  // extern "C"
