// The Collective of libcore (convergent/collective.hpp) over an MPI
// communicator (Open MPI, MPICH: any MPI-3 library), for
// `mpirun -n R convergent compare`, cvg_compare_mpi and
// convergent.compare(comm=...). docs/mpi.md.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "convergent/collective.hpp"

namespace convergent {

class MpiCollective final : public Collective {
public:
    // Works on a duplicate of comm (MPI_Comm_dup, collective), so its
    // messages never meet the caller's; MPI must be initialised.
    explicit MpiCollective(MPI_Comm comm);
    ~MpiCollective() override;
    MpiCollective(const MpiCollective&) = delete;
    MpiCollective& operator=(const MpiCollective&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string description() const override;
    using Collective::gather_to_root;
    void gather_to_root(const char* data, std::int64_t size, const ReceiveFn& at_root) override;
    std::string broadcast_from_root(const std::string& bytes) override;
    void sum_exact(double* values, std::int64_t count) override;
    CollectiveFailure agree(const CollectiveFailure& mine) override;

private:
    MPI_Comm comm_ = MPI_COMM_NULL;
    int rank_ = 0, size_ = 1;
    // Rank 0's receive buffer, kept for the whole run: 2 MiB aligned and
    // advised to transparent huge pages, so the T x T moments of every
    // layer land without a page fault per 4 KiB after the first.
    struct FreeBuffer {
        void operator()(char* p) const;
    };
    std::unique_ptr<char, FreeBuffer> buffer_;
    std::int64_t buffer_size_ = 0;
    char* receive(int from);  // the next message of rank `from` into buffer_; its size in last_size_
    std::int64_t last_size_ = 0;
};

// launched_by_mpi(): convergent/collective.hpp.

// MPI_Init_thread(FUNNELED) when MPI is not initialised yet, and
// MPI_Finalize at destruction when this initialised it.
class MpiSession {
public:
    MpiSession(int* argc, char*** argv);
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

private:
    bool owns_ = false;
};

// "Open MPI v4.1.4, ..." (MPI_Get_library_version, first line).
std::string mpi_library_version();

}  // namespace convergent
