// The comm= keyword of convergent.compare (docs/mpi.md): an MPI
// communicator as its Fortran handle (mpi4py's comm.py2f()), so neither the
// package's build nor its import needs mpi4py.
#pragma once

#include <memory>

#include <pybind11/pybind11.h>

#include "convergent/collective.hpp"

namespace convergent {
namespace python {

// nullptr for None; the communicator's Collective otherwise. Throws
// Unsupported when the module was built without MPI.
std::unique_ptr<Collective> collective_from(const pybind11::object& comm);

}  // namespace python
}  // namespace convergent
