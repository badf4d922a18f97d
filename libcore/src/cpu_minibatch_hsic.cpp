// Cross-layer CKA maps (Nguyen, Raghu & Kornblith 2021, Sec. 3.1 minibatch
// CKA) on the CPU: the linear Gram of a minibatch and the unbiased HSIC_1
// (Song et al. 2012, eq. 5) between every pair of Grams, both with BLAS
// DSYRK in float64.
#include "cpu_backend.hpp"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "allocation.hpp"

// The Fortran BLAS symbol (as Eigen's EIGEN_USE_BLAS binds it).
extern "C" void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
                       const double* a, const int* lda, const double* beta, double* c, const int* ldc);

namespace convergent {

namespace {

// C (n x n, row-major) (+)= Y Y^T of the row-major n x k matrix Y (ld ldy):
// Y is the column-major k x n matrix A, and A^T A in column-major 'L' is
// the row-major upper triangle of C. Only that triangle is written.
void add_row_gram(const double* y, index_t n, index_t k, index_t ldy, double* c, bool accumulate) {
    const int nn = int(n), kk = int(k), lda = int(ldy), ldc = int(n);
    const double one = 1.0, beta = accumulate ? 1.0 : 0.0;
    dsyrk_("L", "T", &nn, &kk, &one, y, &lda, &beta, c, &ldc);
}

void mirror_upper(double* c, index_t n) {
    for (index_t i = 0; i < n; ++i)
        for (index_t j = i + 1; j < n; ++j) c[j * n + i] = c[i * n + j];
}

// Columns converted to float64 per DSYRK call: 32 MiB of them at most.
constexpr index_t kGramBlockValues = index_t(1) << 22;

}  // namespace

void CpuBackend::linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram) const {
    CVG_REQUIRE(gram != nullptr && (x != nullptr || rows * cols == 0), InvalidArgument, "linear_gram: null pointer");
    CVG_REQUIRE(rows >= 0 && cols >= 0 && ld >= cols, InvalidArgument,
                "linear_gram: need rows, cols >= 0 and ld >= cols (rows " + std::to_string(rows) + ", cols " +
                    std::to_string(cols) + ", ld " + std::to_string(ld) + ")");
    CVG_REQUIRE(rows <= INT_MAX, InvalidArgument, "linear_gram: more than 2^31 rows");
    std::fill(gram, gram + rows * rows, 0.0);
    if (rows == 0 || cols == 0) return;
    // Float32 features are exact in float64: the Gram is accumulated in
    // float64 over blocks of columns so the converted copy stays small
    // whatever the layer's width.
    const index_t block = std::max<index_t>(1, std::min<index_t>({cols, kGramBlockValues / rows, INT_MAX}));
    std::vector<double> y;
    resize_or_fail(y, std::uint64_t(rows * block), "linear_gram", "a float64 block of the minibatch");
    for (index_t c0 = 0; c0 < cols; c0 += block) {
        const index_t cb = std::min(block, cols - c0);
        for (index_t r = 0; r < rows; ++r) {
            const float* src = x + r * ld + c0;
            std::copy(src, src + cb, y.begin() + r * cb);
        }
        add_row_gram(y.data(), rows, cb, cb, gram, c0 > 0);
    }
    mirror_upper(gram, rows);
}

void CpuBackend::unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic) const {
    CVG_REQUIRE(hsic != nullptr && (grams != nullptr || count == 0), InvalidArgument, "unbiased_hsic: null pointer");
    CVG_REQUIRE(n >= 4, InvalidArgument,
                "unbiased_hsic: the unbiased estimator needs n >= 4 samples (n = " + std::to_string(n) + ")");
    CVG_REQUIRE(count >= 0 && count <= INT_MAX && n * n <= INT_MAX, InvalidArgument,
                "unbiased_hsic: " + std::to_string(count) + " Grams of " + std::to_string(n) + " x " +
                    std::to_string(n) + " exceed BLAS's 32-bit dimensions");
    if (count == 0) return;
    const index_t nn = n * n;
    // K~: each Gram with a zero diagonal; its row sums K~1 and total 1'K~1.
    std::vector<double> zeroed, row_sums(static_cast<size_t>(count * n)), totals(static_cast<size_t>(count));
    resize_or_fail(zeroed, std::uint64_t(count * nn), "unbiased_hsic", "the Grams with zero diagonals");
    for (index_t g = 0; g < count; ++g) {
        double total = 0.0;
        for (index_t i = 0; i < n; ++i) {
            const double* src = grams + g * nn + i * n;
            double* dst = zeroed.data() + g * nn + i * n;
            double sum = 0.0;
            for (index_t j = 0; j < n; ++j) {
                const double v = i == j ? 0.0 : src[j];
                dst[j] = v;
                sum += v;
            }
            row_sums[size_t(g * n + i)] = sum;
            total += sum;
        }
        totals[size_t(g)] = total;
    }
    // tr(K~ L~) = <K~, L~> (symmetric Grams) for every pair: one DSYRK over
    // the flattened Grams; 1'K~L~1 = (K~1)'(L~1): one over the row sums.
    std::vector<double> traces(size_t(count * count)), row_products(size_t(count * count));
    add_row_gram(zeroed.data(), count, nn, nn, traces.data(), false);
    add_row_gram(row_sums.data(), count, n, n, row_products.data(), false);
    const double dn = double(n);
    for (index_t a = 0; a < count; ++a)
        for (index_t b = a; b < count; ++b) {
            const size_t ab = size_t(a * count + b);
            const double v = (traces[ab] + totals[size_t(a)] * totals[size_t(b)] / ((dn - 1.0) * (dn - 2.0)) -
                              2.0 / (dn - 2.0) * row_products[ab]) /
                             (dn * (dn - 3.0));
            hsic[a * count + b] = v;
            hsic[b * count + a] = v;
        }
}

}  // namespace convergent
