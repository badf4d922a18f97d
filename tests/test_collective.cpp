// run_compare over a Collective (convergent/collective.hpp, docs/mpi.md)
// without MPI: an in-process Collective whose ranks are threads drives the
// distributed path of libcore (image slices, the rank-ordered reductions,
// rank 0's steps, the error agreement), so it is tested in every build; the
// MPI transport itself is tested by tests/mpi under mpirun.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "convergent/collective.hpp"
#include "convergent/compare.hpp"
#include "convergent/error.hpp"

using namespace convergent;

namespace {

// Every operation is a deposit of each rank's bytes, a barrier, what each
// rank reads from the deposits, and a second barrier before they are reused.
class Hub {
public:
    explicit Hub(int size) : size_(size), slots_(size_t(size)) {}
    int size() const { return size_; }
    std::vector<std::string>& slots() { return slots_; }
    void barrier() {
        std::unique_lock<std::mutex> lock(mutex_);
        const long generation = generation_;
        if (++waiting_ == size_) {
            waiting_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return generation != generation_; });
        }
    }

private:
    int size_;
    std::vector<std::string> slots_;
    std::mutex mutex_;
    std::condition_variable cv_;
    int waiting_ = 0;
    long generation_ = 0;
};

class ThreadCollective final : public Collective {
public:
    ThreadCollective(Hub& hub, int rank) : hub_(hub), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return hub_.size(); }
    std::string description() const override { return "threads, " + std::to_string(size()) + " ranks"; }
    using Collective::gather_to_root;
    void gather_to_root(const char* data, std::int64_t size, const ReceiveFn& at_root) override {
        deposit(std::string(data ? data : "", size_t(size)));
        std::exception_ptr failure;
        if (rank_ == 0)
            for (int r = 1; r < hub_.size(); ++r) {
                // Aligned like the MPI receive buffer.
                std::vector<double> aligned((hub_.slots()[size_t(r)].size() + 7) / 8);
                std::memcpy(aligned.data(), hub_.slots()[size_t(r)].data(), hub_.slots()[size_t(r)].size());
                try {
                    if (!failure)
                        at_root(r, reinterpret_cast<const char*>(aligned.data()),
                                std::int64_t(hub_.slots()[size_t(r)].size()));
                } catch (...) {
                    failure = std::current_exception();
                }
            }
        hub_.barrier();
        if (failure) std::rethrow_exception(failure);
    }
    std::string broadcast_from_root(const std::string& bytes) override {
        deposit(bytes);
        const std::string out = hub_.slots()[0];
        hub_.barrier();
        return out;
    }
    void sum_exact(double* values, std::int64_t count) override {
        deposit(std::string(reinterpret_cast<const char*>(values), size_t(count) * sizeof(double)));
        std::fill(values, values + count, 0.0);
        for (const std::string& s : hub_.slots())
            for (std::int64_t i = 0; i < count; ++i) values[i] += reinterpret_cast<const double*>(s.data())[i];
        hub_.barrier();
    }
    CollectiveFailure agree(const CollectiveFailure& mine) override {
        deposit(mine.rank < 0 ? std::string() : std::to_string(int(mine.code)) + "|" + mine.message);
        CollectiveFailure agreed;
        for (int r = 0; r < hub_.size() && agreed.rank < 0; ++r) {
            const std::string& s = hub_.slots()[size_t(r)];
            if (s.empty()) continue;
            const size_t bar = s.find('|');
            agreed = {r, ErrorCode(std::stoi(s.substr(0, bar))), s.substr(bar + 1)};
        }
        hub_.barrier();
        return agreed;
    }

private:
    void deposit(std::string bytes) {
        hub_.slots()[size_t(rank_)] = std::move(bytes);
        hub_.barrier();
    }
    Hub& hub_;
    int rank_;
};

// 101 inputs (divisible by neither 2 nor 3): a conv layer (N, 4, 2, 2) and a
// dense one (N, 6) for each of three nets, noisy mixtures of shared factors.
struct Nets {
    static constexpr index_t kImages = 101;
    std::vector<std::vector<float>> conv, dense;
    explicit Nets(bool nan_in_last_image = false) {
        std::mt19937 rng(5);
        std::normal_distribution<float> g;
        std::vector<float> shared(size_t(kImages * 4 * 3));
        for (float& v : shared) v = g(rng);
        for (int n = 0; n < 3; ++n) {
            std::vector<float> mix(12);
            for (float& v : mix) v = g(rng);
            conv.emplace_back(size_t(kImages * 4 * 4));
            dense.emplace_back(size_t(kImages * 6));
            for (index_t i = 0; i < kImages; ++i) {
                for (index_t c = 0; c < 4; ++c)
                    for (index_t p = 0; p < 4; ++p)
                        conv.back()[size_t((i * 4 + c) * 4 + p)] =
                            std::max(0.f, shared[size_t(i * 12 + p * 3 + c % 3)] * mix[size_t(c * 3)] + 0.5f * g(rng));
                for (index_t u = 0; u < 6; ++u)
                    dense.back()[size_t(i * 6 + u)] = shared[size_t(i * 12 + u)] * mix[size_t(u)] + g(rng) + float(n);
            }
        }
        if (nan_in_last_image) dense[1][size_t((kImages - 1) * 6 + 2)] = NAN;
    }
    std::vector<ArrayNet> arrays() const {
        std::vector<ArrayNet> out;
        for (int n = 0; n < 3; ++n) {
            TensorView c, d;
            c.data = conv[size_t(n)].data(), c.shape = {kImages, 4, 2, 2};
            d.data = dense[size_t(n)].data(), d.shape = {kImages, 6};
            out.push_back({std::string(1, char('a' + n)), {{"conv", c}, {"dense", d}}});
        }
        return out;
    }
};

CompareOptions options() {
    CompareOptions o;
    o.backend = BackendKind::Cpu;
    o.mutual_information.samples = 250;
    o.mutual_information.bins = 6;
    o.top_patches.k = 3;
    o.chunk_rows = 60;  // several chunks per rank
    return o;
}

struct RankResult {
    MemorySink sink;
    nlohmann::json summary;
    std::string error;
};

std::vector<RankResult> run_ranks(int ranks, const Nets& nets, const CompareOptions& o) {
    Hub hub(ranks);
    std::vector<RankResult> results(static_cast<size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            ThreadCollective collective(hub, r);
            try {
                results[size_t(r)].summary = run_compare(nets.arrays(), results[size_t(r)].sink, o, {}, &collective);
            } catch (const Error& e) {
                results[size_t(r)].error = e.what();
            }
        });
    for (std::thread& t : threads) t.join();
    return results;
}

// Numbers within 1e-12 relative (1e-12 absolute below 1), the rest equal;
// "ranks" is the one key a distributed summary adds.
void expect_close(const nlohmann::json& a, const nlohmann::json& b, const std::string& where) {
    if (a.is_object() && a.contains("eigenvalues") && a.contains("clusters")) {
        // A pair's spectral clustering (Sec. 4): the eigenvalues and the
        // cluster count follow from the statistics; the hierarchy below
        // (k-means, recursive splits) can take another of near-equal splits
        // when its input moves by a rounding, in one process too (another
        // thread count): docs/mpi.md.
        for (const char* k : {"eigenvalues", "k", "k_eigengap"}) expect_close(a[k], b[k], where + "/" + k);
        return;
    }
    if (a.is_object()) {
        ASSERT_TRUE(b.is_object()) << where;
        for (const auto& [k, v] : a.items()) {
            ASSERT_TRUE(b.contains(k)) << where << "/" << k;
            expect_close(v, b[k], where + "/" + k);
        }
    } else if (a.is_array()) {
        ASSERT_EQ(a.size(), b.size()) << where;
        for (size_t i = 0; i < a.size(); ++i) expect_close(a[i], b[i], where + "[" + std::to_string(i) + "]");
    } else if (a.is_number_float()) {
        const double x = a.get<double>(), y = b.get<double>();
        EXPECT_LE(std::abs(x - y), 1e-12 * std::max({1.0, std::abs(x), std::abs(y)})) << where;
    } else {
        EXPECT_EQ(a, b) << where;
    }
}

TEST(Collective, SliceCoversEveryImageOnceInRankOrder) {
    for (int ranks : {1, 2, 3, 7}) {
        Hub hub(ranks);
        std::int64_t expected_first = 0;
        for (int r = 0; r < ranks; ++r) {
            std::int64_t first = -1, end = -1;
            ThreadCollective(hub, r).slice(101, first, end);
            EXPECT_EQ(first, expected_first);
            EXPECT_GE(end - first, 101 / ranks);
            EXPECT_LE(end - first, 101 / ranks + 1);
            expected_first = end;
        }
        EXPECT_EQ(expected_first, 101);
    }
}

TEST(Collective, RanksGiveTheSingleProcessResults) {
    const Nets nets;
    const CompareOptions o = options();
    MemorySink single;
    const nlohmann::json reference = run_compare(nets.arrays(), single, o);
    for (int ranks : {1, 2, 3}) {
        SCOPED_TRACE(std::to_string(ranks) + " ranks");
        std::vector<RankResult> results = run_ranks(ranks, nets, o);
        for (const RankResult& r : results) {
            ASSERT_EQ(r.error, "");
            EXPECT_EQ(r.summary, results[0].summary);  // every rank returns rank 0's summary
        }
        EXPECT_EQ(results[0].summary["ranks"], ranks);
        nlohmann::json summary = results[0].summary;
        summary.erase("ranks");
        if (ranks == 1) EXPECT_EQ(summary, reference);  // nothing merged: identical
        expect_close(reference, summary, "summary");
        // Rank 0 alone wrote: the other ranks' sinks are untouched.
        for (int r = 1; r < ranks; ++r) EXPECT_TRUE(results[size_t(r)].sink.arrays().empty());
        auto& arrays = results[0].sink.arrays();
        ASSERT_EQ(arrays.size(), single.arrays().size());
        for (auto& [path, array] : single.arrays()) {
            ASSERT_TRUE(arrays.count(path)) << path;
            const std::vector<float>& got = arrays.at(path).values;
            const bool exact = path.find("matched") != std::string::npos || path.find(".mi.") != std::string::npos ||
                               path.find(".topk") != std::string::npos ||
                               path.find("joint_sample") != std::string::npos;
            for (size_t i = 0; i < got.size(); ++i) {
                if (exact || ranks == 1)
                    EXPECT_TRUE(got[i] == array.values[i] || (std::isnan(got[i]) && std::isnan(array.values[i])))
                        << path << "[" << i << "]";
                else
                    EXPECT_NEAR(got[i], array.values[i], 2e-7 * std::max(1.f, std::abs(got[i]))) << path;
            }
        }
    }
}

TEST(Collective, AnErrorOnOneRankStopsEveryRankWithItsMessage) {
    const Nets nets(true);  // a NaN in image 100: the last rank's slice
    CompareOptions o = options();
    o.similarity_indices.enabled = false;  // else every rank reads the first chunk (the reference point) too
    for (int ranks : {2, 3}) {
        std::vector<RankResult> results = run_ranks(ranks, nets, o);
        for (RankResult& r : results) {
            EXPECT_NE(r.error.find("rank " + std::to_string(ranks - 1) + ": "), std::string::npos) << r.error;
            EXPECT_NE(r.error.find("NaN"), std::string::npos) << r.error;
            EXPECT_NE(r.error.find("image 100"), std::string::npos) << r.error;
            EXPECT_TRUE(r.sink.summary().is_null());  // never committed (a DirectorySink leaves nothing)
        }
    }
}

TEST(Collective, CrossLayersAreRejectedWithMoreThanOneRank) {
    const Nets nets;
    CompareOptions o = options();
    o.cross_layers.enabled = true;
    for (const RankResult& r : run_ranks(2, nets, o))
        EXPECT_NE(r.error.find("cross_layers is not supported in a distributed run"), std::string::npos) << r.error;
}

}  // namespace
