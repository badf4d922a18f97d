#include "distributed.hpp"

#include <cstdlib>

#include <algorithm>
#include <cstring>

namespace convergent {

bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
        if (std::getenv(name)) return true;
    return false;
}

void collectively(Collective* collective, const std::function<void()>& fn) {
    if (!collective) return fn();
    CollectiveFailure mine;
    try {
        fn();
    } catch (const Error& e) {
        mine = {collective->rank(), e.code(), e.what()};
    } catch (const std::bad_alloc&) {
        mine = {collective->rank(), ErrorCode::OutOfMemory, "out of memory"};
    } catch (const std::exception& e) {
        mine = {collective->rank(), ErrorCode::Internal, std::string("internal error: ") + e.what()};
    }
    const CollectiveFailure agreed = collective->agree(mine);
    if (agreed.rank < 0) return;
    // Rank 0 alone (one rank) needs no prefix: its message is the
    // single-process one.
    fail(agreed.code, collective->size() > 1 ? "rank " + std::to_string(agreed.rank) + ": " + agreed.message
                                             : agreed.message);
}

namespace {

void append(std::string& out, const void* data, size_t bytes) {
    out.append(static_cast<const char*>(data), bytes);
}
void append_doubles(std::string& out, const std::vector<double>& v) {
    const std::int64_t n = std::int64_t(v.size());
    append(out, &n, sizeof n);
    append(out, v.data(), v.size() * sizeof(double));
}

struct Reader {
    const char* bytes;
    size_t size;
    size_t at = 0;
    std::string what;
    void read(void* data, size_t n) {
        CVG_REQUIRE(at + n <= size, Internal, what + ": a truncated message");
        std::memcpy(data, bytes + at, n);
        at += n;
    }
    // Adds the received vector to v (same size) in element order.
    void add_doubles(std::vector<double>& v) {
        std::int64_t n = 0;
        read(&n, sizeof n);
        CVG_REQUIRE(n == std::int64_t(v.size()), Internal, what + ": the per-sample sums differ in size");
        std::vector<double> other(v.size());
        read(other.data(), other.size() * sizeof(double));
        for (size_t i = 0; i < v.size(); ++i) v[i] += other[i];
    }
};

}  // namespace

void reduce_to_root(Collective& collective, MomentAccumulator& accumulator, const std::string& what) {
    const size_t width = size_t(accumulator.width());
    // Counts and means first (small), kept on rank 0 for the second round.
    std::string header;
    if (collective.rank() != 0) {
        const std::int64_t count = accumulator.count();
        append(header, &count, sizeof count);
        append(header, accumulator.mean().data(), width * sizeof(double));
    }
    std::vector<std::int64_t> counts(size_t(collective.size()), 0);
    std::vector<std::vector<double>> means(size_t(collective.size()));
    collective.gather_to_root(header, [&](int rank, const char* data, std::int64_t size) {
        Reader in{data, size_t(size), 0, what + " from rank " + std::to_string(rank)};
        in.read(&counts[size_t(rank)], sizeof(std::int64_t));
        means[size_t(rank)].resize(width);
        in.read(means[size_t(rank)].data(), width * sizeof(double));
        CVG_REQUIRE(in.at == in.size, Internal, in.what + ": the moments differ in width");
    });
    const char* comoment = nullptr;
    std::int64_t bytes = 0;
    if (collective.rank() != 0) {
        comoment = reinterpret_cast<const char*>(accumulator.comoment().data());
        bytes = std::int64_t(width * width * sizeof(double));
    }
    collective.gather_to_root(comoment, bytes, [&](int rank, const char* data, std::int64_t size) {
        CVG_REQUIRE(size == std::int64_t(width * width * sizeof(double)), Internal,
                    what + " from rank " + std::to_string(rank) + ": the comoment differs in size");
        // The receive buffer holds raw float64 bytes; merge_moments reads
        // them through a properly aligned pointer (the buffer is 2 MiB aligned).
        accumulator.merge_moments(counts[size_t(rank)], means[size_t(rank)].data(),
                                  reinterpret_cast<const double*>(data));
    });
}

void reduce_per_sample_terms(Collective& collective, PerSampleTerms& terms, const std::string& what) {
    std::string bytes;
    if (collective.rank() != 0) {
        const std::int64_t samples = terms.samples;
        append(bytes, &samples, sizeof samples);
        append_doubles(bytes, terms.reference);
        append_doubles(bytes, terms.sums);
        append_doubles(bytes, terms.norm_sums);
        append_doubles(bytes, terms.norm_products);
        append_doubles(bytes, terms.weighted_sums);
    }
    collective.gather_to_root(bytes, [&](int rank, const char* data, std::int64_t size) {
        Reader in{data, size_t(size), 0, what + " from rank " + std::to_string(rank)};
        std::int64_t samples = 0;
        in.read(&samples, sizeof samples);
        // The sums are additive only around one reference point.
        std::vector<double> reference(terms.reference.size());
        std::int64_t n = 0;
        in.read(&n, sizeof n);
        if (samples == 0) return;  // a rank without images never set its reference
        CVG_REQUIRE(n == std::int64_t(reference.size()) || terms.samples == 0, Internal,
                    in.what + ": the per-sample reference differs in size");
        reference.resize(size_t(n));
        in.read(reference.data(), reference.size() * sizeof(double));
        if (terms.samples == 0) terms.reference = reference;
        CVG_REQUIRE(reference == terms.reference, Internal,
                    in.what + ": the per-sample sums are around a different reference point");
        in.add_doubles(terms.sums);
        in.add_doubles(terms.norm_sums);
        in.add_doubles(terms.norm_products);
        in.add_doubles(terms.weighted_sums);
        terms.samples += samples;
    });
}

void gather_sample_rows(Collective& collective, const std::vector<index_t>& rows, std::vector<float>& values,
                        index_t width, index_t first_row, index_t end_row, const std::string& what) {
    // This rank's rows are a contiguous range of the sorted sample.
    const auto range = [&](index_t first, index_t end) {
        const index_t lo = index_t(std::lower_bound(rows.begin(), rows.end(), first) - rows.begin());
        const index_t hi = index_t(std::lower_bound(rows.begin(), rows.end(), end) - rows.begin());
        return std::make_pair(lo, hi);
    };
    std::string bytes;
    if (collective.rank() != 0) {
        const auto [lo, hi] = range(first_row, end_row);
        const std::int64_t header[2] = {lo, hi};
        append(bytes, header, sizeof header);
        append(bytes, values.data() + lo * width, size_t((hi - lo) * width) * sizeof(float));
    }
    collective.gather_to_root(bytes, [&](int rank, const char* data, std::int64_t size) {
        Reader in{data, size_t(size), 0, what + " from rank " + std::to_string(rank)};
        std::int64_t header[2] = {0, 0};
        in.read(header, sizeof header);
        CVG_REQUIRE(header[0] >= 0 && header[0] <= header[1] && header[1] <= std::int64_t(rows.size()), Internal,
                    in.what + ": sample rows outside the sample");
        in.read(values.data() + header[0] * width, size_t((header[1] - header[0]) * width) * sizeof(float));
    });
}

}  // namespace convergent
