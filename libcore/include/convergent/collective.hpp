// The collective operations a comparison spread over several processes
// needs (docs/mpi.md), as an interface without MPI types: libcore stays free
// of MPI, and the MPI layer (mpi/, convergent_mpi) implements it over a
// communicator. run_compare given one (compare.hpp) streams only this
// rank's slice of the inputs, reduces the layer pass's accumulators to rank
// 0 in rank order and runs the analysis steps there; without one nothing
// changes.
//
// Every call is collective: all ranks make the same calls in the same order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "convergent/error.hpp"

namespace convergent {

// How a distributed run failed: the lowest failing rank, its error code and
// message (rank -1: no rank failed).
struct CollectiveFailure {
    int rank = -1;
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

class Collective {
public:
    virtual ~Collective() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // "MPI, 3 ranks" (summary.json "distributed").
    virtual std::string description() const = 0;

    // Rank 0 receives every other rank's bytes, one rank at a time in rank
    // order (1, 2, ...), through at_root(rank, data, size); the other ranks
    // send theirs (read in place, not copied). A rank-ordered merge is
    // deterministic for a given rank count, and rank 0 holds one message at
    // a time (data is valid during the call only).
    using ReceiveFn = std::function<void(int rank, const char* data, std::int64_t size)>;
    virtual void gather_to_root(const char* data, std::int64_t size, const ReceiveFn& at_root) = 0;
    void gather_to_root(const std::string& bytes, const ReceiveFn& at_root) {
        gather_to_root(bytes.data(), std::int64_t(bytes.size()), at_root);
    }
    // Every rank returns rank 0's bytes.
    virtual std::string broadcast_from_root(const std::string& bytes) = 0;
    // The element-wise sum over ranks, on every rank. Only for values whose
    // sum is exact in any order (integer counts below 2^53).
    virtual void sum_exact(double* values, std::int64_t count) = 0;
    // The error agreement: each rank passes its failure (rank -1 when it
    // succeeded); every rank returns the failure of the lowest failing
    // rank, or rank -1 when none failed.
    virtual CollectiveFailure agree(const CollectiveFailure& mine) = 0;

    // This rank's contiguous slice [first, end) of `items` (by image, so the
    // positions of one image stay on one rank): the first items % size()
    // ranks take one more.
    void slice(std::int64_t items, std::int64_t& first, std::int64_t& end) const {
        const std::int64_t r = rank(), n = size(), base = items / n, extra = items % n;
        first = r * base + (r < extra ? r : extra);
        end = first + base + (r < extra ? 1 : 0);
    }
};

// Runs fn on this rank and agrees on the outcome: when any rank threw, every
// rank throws the lowest failing rank's error, its message prefixed with
// "rank R: " (no prefix with one rank). With collective == nullptr, just fn().
void collectively(Collective* collective, const std::function<void()>& fn);

// Whether this process was started by an MPI launcher (mpirun, mpiexec,
// srun with PMI/PMIx): the environment variables they set. A plain
// `convergent compare` stays a plain process.
bool launched_by_mpi();

}  // namespace convergent
