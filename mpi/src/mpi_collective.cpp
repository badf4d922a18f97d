#include "convergent/mpi_collective.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>
#include <vector>

namespace convergent {

namespace {

// MPI counts are int: messages go in pieces of at most 1 GiB (the T x T
// float64 moments of 16384 units are 2 GiB).
constexpr std::int64_t kPiece = std::int64_t(1) << 30;
constexpr int kTagLength = 71, kTagData = 72;

void check(int status, const char* call) {
    if (status == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    MPI_Error_string(status, text, &length);
    fail(ErrorCode::Io, std::string(call) + " failed: " + std::string(text, size_t(length)));
}

void send_bytes(const char* data, std::int64_t size, int to, MPI_Comm comm) {
    check(MPI_Send(&size, 1, MPI_INT64_T, to, kTagLength, comm), "MPI_Send");
    for (std::int64_t at = 0; at < size; at += kPiece)
        check(MPI_Send(data + at, int(std::min(kPiece, size - at)), MPI_BYTE, to, kTagData, comm), "MPI_Send");
}


void broadcast(std::string& bytes, int root, MPI_Comm comm) {
    std::int64_t size = std::int64_t(bytes.size());
    check(MPI_Bcast(&size, 1, MPI_INT64_T, root, comm), "MPI_Bcast");
    bytes.resize(size_t(size));
    for (std::int64_t at = 0; at < size; at += kPiece)
        check(MPI_Bcast(&bytes[size_t(at)], int(std::min(kPiece, size - at)), MPI_BYTE, root, comm), "MPI_Bcast");
}

}  // namespace

MpiCollective::MpiCollective(MPI_Comm comm) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    CVG_REQUIRE(initialized && !finalized, InvalidArgument,
                "MPI is not initialised (call MPI_Init first, or import mpi4py.MPI)");
    CVG_REQUIRE(comm != MPI_COMM_NULL, InvalidArgument, "the MPI communicator is MPI_COMM_NULL");
    check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
}

MpiCollective::~MpiCollective() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

std::string MpiCollective::description() const {
    return "MPI, " + std::to_string(size_) + (size_ == 1 ? " rank" : " ranks");
}

void MpiCollective::FreeBuffer::operator()(char* p) const { std::free(p); }

char* MpiCollective::receive(int from) {
    std::int64_t size = 0;
    check(MPI_Recv(&size, 1, MPI_INT64_T, from, kTagLength, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    if (size > buffer_size_) {
        constexpr std::size_t kHugePage = std::size_t(2) << 20;
        const std::size_t bytes = (std::size_t(size) + kHugePage - 1) / kHugePage * kHugePage;
        buffer_.reset();
        void* p = nullptr;
        CVG_REQUIRE(::posix_memalign(&p, kHugePage, bytes) == 0, OutOfMemory,
                    "MPI: out of memory for a message of " + std::to_string(size) + " bytes from rank " +
                        std::to_string(from));
        ::madvise(p, bytes, MADV_HUGEPAGE);
        buffer_.reset(static_cast<char*>(p));
        buffer_size_ = std::int64_t(bytes);
    }
    for (std::int64_t at = 0; at < size; at += kPiece)
        check(MPI_Recv(buffer_.get() + at, int(std::min(kPiece, size - at)), MPI_BYTE, from, kTagData, comm_,
                       MPI_STATUS_IGNORE),
              "MPI_Recv");
    last_size_ = size;
    return buffer_.get();
}

void MpiCollective::gather_to_root(const char* data, std::int64_t size, const ReceiveFn& at_root) {
    if (rank_ != 0) {
        send_bytes(data, size, 0, comm_);
        return;
    }
    // Every message is received even after at_root failed, so no sender
    // waits forever; the first failure is rethrown at the end (and agreed
    // on by the caller).
    std::exception_ptr failure;
    for (int r = 1; r < size_; ++r) {
        const char* received = receive(r);
        if (failure) continue;
        try {
            at_root(r, received, last_size_);
        } catch (...) {
            failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
}

std::string MpiCollective::broadcast_from_root(const std::string& bytes) {
    std::string out = rank_ == 0 ? bytes : std::string();
    broadcast(out, 0, comm_);
    return out;
}

void MpiCollective::sum_exact(double* values, std::int64_t count) {
    for (std::int64_t at = 0; at < count; at += INT_MAX / 2)
        check(MPI_Allreduce(MPI_IN_PLACE, values + at, int(std::min<std::int64_t>(INT_MAX / 2, count - at)),
                            MPI_DOUBLE, MPI_SUM, comm_),
              "MPI_Allreduce");
}

CollectiveFailure MpiCollective::agree(const CollectiveFailure& mine) {
    int failing = mine.rank >= 0 ? rank_ : size_;
    check(MPI_Allreduce(MPI_IN_PLACE, &failing, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
    if (failing == size_) return {};
    CollectiveFailure agreed;
    agreed.rank = failing;
    int code = static_cast<int>(mine.code);
    check(MPI_Bcast(&code, 1, MPI_INT, failing, comm_), "MPI_Bcast");
    agreed.code = static_cast<ErrorCode>(code);
    agreed.message = rank_ == failing ? mine.message : std::string();
    broadcast(agreed.message, failing, comm_);
    return agreed;
}

MpiSession::MpiSession(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owns_ = true;
}

MpiSession::~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_ && !finalized) MPI_Finalize();
}

std::string mpi_library_version() {
    char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int length = 0;
    MPI_Get_library_version(text, &length);
    std::string version(text, size_t(length));
    return version.substr(0, version.find_first_of("\r\n,"));
}

}  // namespace convergent
