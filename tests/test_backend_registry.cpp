// The backend registry of libcore: the CPU backend is always there, the CUDA
// backend exactly when this build has it (registered from above by
// backends/, before main()), make_backend's auto/explicit semantics, and
// dispatch to a registered backend. Tests that register a fake backend run in
// a child process (a death test), so the real registry of this binary stays
// as built.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "convergent/backend.hpp"
#include "convergent/builtin_backends.hpp"
#include "cpu_backend.hpp"

using namespace convergent;

namespace {

Error expect_error(BackendKind kind) {
    try {
        make_backend(kind);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "make_backend(" << backend_kind_name(kind) << ") did not throw";
    return Error(ErrorCode::Internal, "");
}

// Reports kind Cuda, runs on the CPU: enough to see which factory ran.
class FakeCudaBackend final : public Backend {
public:
    BackendKind kind() const override { return BackendKind::Cuda; }
    std::string device_description() const override { return "fake cuda"; }
    void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                       double* comoment) const override {
        cpu_.chunk_moments(x, rows, cols, ld, mean, comoment);
    }
    void mutual_information(const BinCodesView& a, const BinCodesView& b, double* mi) const override {
        cpu_.mutual_information(a, b, mi);
    }
    Assignment max_weight_assignment(const double* w, index_t rows, index_t cols, index_t ld) const override {
        return cpu_.max_weight_assignment(w, rows, cols, ld);
    }
    void symmetric_eigensolve_smallest(const double* m, index_t n, index_t k, double* values,
                                       double* vectors) const override {
        cpu_.symmetric_eigensolve_smallest(m, n, k, values, vectors);
    }
    void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram) const override {
        cpu_.linear_gram(x, rows, cols, ld, gram);
    }
    void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic) const override {
        cpu_.unbiased_hsic(grams, count, n, hsic);
    }

private:
    CpuBackend cpu_;
};

std::unique_ptr<Backend> make_fake() { return std::make_unique<FakeCudaBackend>(); }
bool fake_device_present(std::string*) { return true; }
bool fake_device_missing(std::string* why) {
    if (why) *why = "fake driver: no device plugged in";
    return false;
}

}  // namespace

TEST(BackendRegistry, CpuIsAlwaysRegisteredAndAvailable) {
    EXPECT_TRUE(backend_registered(BackendKind::Cpu));
    std::string why = "untouched";
    EXPECT_TRUE(backend_available(BackendKind::Cpu, &why));
    EXPECT_EQ(why, "untouched");
    EXPECT_EQ(make_backend(BackendKind::Cpu)->kind(), BackendKind::Cpu);
}

TEST(BackendRegistry, CudaRegisteredExactlyWhenBuilt) {
    // convergent_tests links convergent_backends_at_startup: the backends of
    // this build are registered before main().
    EXPECT_EQ(cuda_compiled_in(), CONVERGENT_TEST_CUDA_BUILT != 0);
    register_builtin_backends();  // idempotent
    EXPECT_EQ(cuda_compiled_in(), CONVERGENT_TEST_CUDA_BUILT != 0);
}

TEST(BackendRegistry, ExplicitCudaNeverFallsBackAndSaysWhy) {
    std::string why;
    if (cuda_device_available(&why)) GTEST_SKIP() << "a CUDA device is present";
    EXPECT_FALSE(why.empty());
    const Error e = expect_error(BackendKind::Cuda);
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    const std::string message = e.what();
    // Two different reasons: no backend in this build vs. no device.
    const bool says_no_backend = message.find("no CUDA backend") != std::string::npos;
    EXPECT_EQ(says_no_backend, !cuda_compiled_in()) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
    EXPECT_EQ(make_backend(BackendKind::Auto)->kind(), BackendKind::Cpu);
}

TEST(BackendRegistry, AutoIsNotABackendToRegister) {
    try {
        register_backend(BackendKind::Auto, "auto", &make_fake, &fake_device_present);
        FAIL() << "registering 'auto' succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    }
    EXPECT_THROW(register_backend(BackendKind::Cuda, "cuda", nullptr, &fake_device_present), Error);
    EXPECT_THROW(register_backend(BackendKind::Cuda, "cuda", &make_fake, nullptr), Error);
    EXPECT_TRUE(backend_available(BackendKind::Auto, nullptr));
}

TEST(BackendRegistryDeathTest, RegisteredBackendServesAutoAndExplicitRequests) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            register_backend(BackendKind::Cuda, "cuda", &make_fake, &fake_device_present);
            const bool ok = cuda_compiled_in() && cuda_device_available(nullptr) &&
                            make_backend(BackendKind::Auto)->device_description() == "fake cuda" &&
                            make_backend(BackendKind::Cuda)->kind() == BackendKind::Cuda &&
                            make_backend(BackendKind::Cpu)->kind() == BackendKind::Cpu;
            std::exit(ok ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST(BackendRegistryDeathTest, RegisteredBackendWithoutDeviceIsRefusedWithTheProbesReason) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            register_backend(BackendKind::Cuda, "cuda", &make_fake, &fake_device_missing);
            bool ok = cuda_compiled_in() && !cuda_device_available(nullptr) &&
                      make_backend(BackendKind::Auto)->kind() == BackendKind::Cpu;
            try {
                make_backend(BackendKind::Cuda);
                ok = false;
            } catch (const Error& e) {
                const std::string message = e.what();
                ok = ok && e.code() == ErrorCode::Unsupported &&
                     message.find("fake driver: no device plugged in") != std::string::npos &&
                     message.find("no CUDA backend") == std::string::npos;
            }
            std::exit(ok ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}
