#include "mpi_comm.hpp"

#ifdef CONVERGENT_PYTHON_MPI
#include "convergent/mpi_collective.hpp"
#endif

namespace convergent {
namespace python {

std::unique_ptr<Collective> collective_from(const pybind11::object& comm) {
    if (comm.is_none()) return nullptr;
#ifdef CONVERGENT_PYTHON_MPI
    const long long handle = comm.cast<long long>();
    return std::make_unique<MpiCollective>(MPI_Comm_f2c(MPI_Fint(handle)));
#else
    fail(ErrorCode::Unsupported,
         "comm=: this convergent was built without MPI (CMake CONVERGENT_MPI; Debian libopenmpi-dev)");
#endif
}

}  // namespace python
}  // namespace convergent
