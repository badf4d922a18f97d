// Argument checks shared by the Sec. 3.1 units that take a dense row-major
// matrix (matching.cpp, jonker_volgenant.cpp), so they refuse the same
// inputs with the same messages.
#pragma once

#include <limits>
#include <string>

#include "convergent/error.hpp"

namespace convergent {
namespace matrix_detail {

// `what` names the operation in messages. The int limit is the solvers'
// index type (JV keeps its arrays as int).
inline void check_matrix(const double* m, index_t rows, index_t cols, index_t ld, const char* what) {
    CVG_REQUIRE(rows >= 0 && cols >= 0, InvalidArgument,
                std::string(what) + ": negative matrix size " + std::to_string(rows) + " x " +
                    std::to_string(cols));
    CVG_REQUIRE(ld >= cols, InvalidArgument,
                std::string(what) + ": leading dimension " + std::to_string(ld) +
                    " is smaller than cols " + std::to_string(cols));
    CVG_REQUIRE(m != nullptr || rows * cols == 0, InvalidArgument,
                std::string(what) + ": NULL matrix");
    CVG_REQUIRE(rows < index_t(std::numeric_limits<int>::max()) &&
                    cols < index_t(std::numeric_limits<int>::max()),
                InvalidArgument, std::string(what) + ": matrix too large");
}

}  // namespace matrix_detail
}  // namespace convergent
