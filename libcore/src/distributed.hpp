// The reductions of a distributed layer pass (collective.hpp, docs/mpi.md):
// each rank streamed its own slice of the images into the pass's
// accumulators; these bring them to rank 0, merged in rank order.
//
// Adding an accumulator to the layer pass: if it has save(std::ostream&),
// static load(std::istream&, what) and merge(const T&) (merging the
// accumulators of disjoint image ranges), reducing it is one line in
// LayerPass::reduce (compare.cpp): reduce_to_root(collective, accumulator, what).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "convergent/collective.hpp"
#include "convergent/similarity_indices.hpp"
#include "convergent/statistics.hpp"

namespace convergent {

// Rank 0's accumulator becomes the rank-ordered merge of every rank's
// (acc_0 merged with acc_1, then acc_2, ...); other ranks' are sent and left
// as they were. Rank 0 holds one other accumulator at a time.
template <typename Accumulator>
void reduce_to_root(Collective& collective, Accumulator& accumulator, const std::string& what) {
    std::string bytes;
    if (collective.rank() != 0) {
        std::ostringstream out(std::ios::binary);
        accumulator.save(out);
        bytes = out.str();
    }
    collective.gather_to_root(bytes, [&](int rank, const char* data, std::int64_t size) {
        std::istringstream in(std::string(data, size_t(size)), std::ios::binary);
        accumulator.merge(Accumulator::load(in, what + " from rank " + std::to_string(rank)));
    });
}

// The moments (T x T float64, the large message) without a serialised copy:
// each rank's count and means, then its comoment sent from where it lies
// and merged (Chan et al.) from the receive buffer. A copy of 128 MiB costs
// about half a second of page faults on the VMs this runs on.
void reduce_to_root(Collective& collective, MomentAccumulator& accumulator, const std::string& what);

// The per-sample sums of debiased CKA (similarity_indices.hpp): every rank
// summed around the same reference (the global first chunk's mean), so rank
// 0 adds the others' sums in rank order.
void reduce_per_sample_terms(Collective& collective, PerSampleTerms& terms, const std::string& what);

// The Sec. 3.2 sample rows: `rows` (sorted global sample rows) and `values`
// (rows.size() x width, row-major) are filled on each rank for the rows in
// [first_row, end_row), its slice; rank 0 receives every rank's rows into
// their places, so its sample equals a single process's, byte for byte.
void gather_sample_rows(Collective& collective, const std::vector<index_t>& rows, std::vector<float>& values,
                        index_t width, index_t first_row, index_t end_row, const std::string& what);

}  // namespace convergent
