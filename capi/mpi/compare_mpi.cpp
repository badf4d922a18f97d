// C ABI: cvg_compare over an MPI communicator (convergent_mpi.h). Built into
// libconvergent only when it is built with MPI (mpi/CMakeLists.txt).
#include "capi_internal.hpp"
#include "convergent/compare.hpp"
#include "convergent/mpi_collective.hpp"
#include "convergent_mpi.h"

using namespace convergent;

namespace {

int compare_over(const char* function, const char* const* inputs, int32_t n_inputs, const char* out_dir,
                 const cvg_options* opts, MPI_Comm comm) {
    return capi::translate_exceptions(function, [&] {
        CVG_ARG(comm != MPI_COMM_NULL, "comm is MPI_COMM_NULL");
        MpiCollective collective(comm);
        // Argument errors are agreed on like any other, so no rank waits
        // for one that returned early.
        std::vector<NetInput> nets;
        CompareOptions options;
        collectively(&collective, [&] {
            options = capi::options_or_defaults(opts).compare;
            CVG_ARG(inputs != nullptr, "inputs is NULL");
            CVG_ARG(n_inputs >= 2, "n_inputs = " + std::to_string(n_inputs) + ": compare needs at least two nets");
            for (int32_t i = 0; i < n_inputs; ++i) {
                CVG_ARG(inputs[i] != nullptr, "inputs[" + std::to_string(i) + "] is NULL");
                CVG_ARG(inputs[i][0] != '\0', "inputs[" + std::to_string(i) + "] is empty");
                nets.push_back(parse_net_input(inputs[i]));
            }
            CVG_ARG(out_dir != nullptr, "out_dir is NULL");
            CVG_ARG(out_dir[0] != '\0', "out_dir is empty");
        });
        run_compare(nets, out_dir, options, {}, &collective);
    });
}

}  // namespace

extern "C" {

int cvg_compare_mpi(const char* const* inputs, int32_t n_inputs, const char* out_dir, const cvg_options* opts,
                    MPI_Comm comm) {
    return compare_over("cvg_compare_mpi", inputs, n_inputs, out_dir, opts, comm);
}

int cvg_compare_mpi_f(const char* const* inputs, int32_t n_inputs, const char* out_dir, const cvg_options* opts,
                      int64_t fortran_comm) {
    return compare_over("cvg_compare_mpi_f", inputs, n_inputs, out_dir, opts, MPI_Comm_f2c(MPI_Fint(fortran_comm)));
}

}  // extern "C"
