// Test hooks of mutual_information.cpp, kept out of the public header.
#pragma once

#include <cstdint>
#include <vector>

#include "convergent/mutual_information.hpp"

namespace convergent {

// Same contract and layout as joint_histogram_counts, counted one sample at a
// time: the obviously-correct reference the fast routine is tested against.
std::vector<std::int32_t> joint_histogram_counts_naive(const BinCodesView& a, index_t a_begin,
                                                       index_t a_count, const BinCodesView& b,
                                                       index_t b_begin, index_t b_count);

}  // namespace convergent
