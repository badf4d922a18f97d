// Whole-layer similarity indices from covariance blocks (see
// convergent/similarity_indices.hpp for the formulas and their sources).
#include "convergent/similarity_indices.hpp"


#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include <Eigen/Dense>

#include "lapack.hpp"

namespace convergent {

using lapack::lapack_int;

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::Matrix<double, Eigen::Dynamic, 1>;
using ConstRowMap = Eigen::Map<const RowMatrix>;
using ConstVectorMap = Eigen::Map<const Vector>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// netrep's whiten(): alpha above 1 - eigval_tol means no whitening.
constexpr double kNoWhiteningTolerance = 1e-7;

std::string format(double v) {
    std::ostringstream out;
    out.precision(3);
    out << v;
    return out.str();
}

void check_lapack_size(index_t n, const char* what) {
    CVG_REQUIRE(n <= index_t(std::numeric_limits<lapack_int>::max() / std::max<index_t>(1, n)), InvalidArgument,
                std::string("similarity indices: ") + what + " too large for LAPACK");
}

// Every eigenpair of a symmetric matrix, eigenvalues increasing (dsyevd).
void symmetric_eigen(Matrix a, Vector& values, Matrix& vectors) {
    const index_t n = a.rows();
    check_lapack_size(n, "covariance");
    vectors = std::move(a);
    values.resize(n);
    const lapack_int info = lapack::syevd('L', lapack_int(n), vectors.data(), lapack_int(n), values.data());
    CVG_REQUIRE(info == 0, Internal, "similarity indices: LAPACK dsyevd failed (info = " + std::to_string(info) + ")");
}

// Singular values (decreasing), and with u/vt the thin factors (dgesdd).
Vector singular_values(Matrix m, Matrix* u = nullptr, Matrix* vt = nullptr) {
    const index_t rows = m.rows(), cols = m.cols(), k = std::min(rows, cols);
    check_lapack_size(std::max(rows, cols), "matrix");
    Vector s(k);
    if (k == 0) return s;
    const bool vectors = u != nullptr;
    if (vectors) {
        u->resize(rows, k);
        vt->resize(k, cols);
    }
    const lapack_int info =
        lapack::gesdd(vectors ? 'S' : 'N', lapack_int(rows), lapack_int(cols), m.data(), lapack_int(rows), s.data(),
                      vectors ? u->data() : nullptr, lapack_int(rows), vectors ? vt->data() : nullptr,
                      lapack_int(std::max<index_t>(1, k)));
    CVG_REQUIRE(info == 0, Internal, "similarity indices: LAPACK dgesdd failed (info = " + std::to_string(info) + ")");
    return s;
}

// One net's live covariance as its eigendecomposition (S = V diag(values) V'),
// its trace and the ridge.
struct NetSpectrum {
    Vector values;     // eigenvalues, increasing, clipped at 0
    Matrix vectors;
    double trace = 0;
    double ridge = 0;  // added to every eigenvalue for the inverses
    Vector regularised() const { return (values.array() + ridge).matrix(); }
};

NetSpectrum spectrum(Matrix cov, double relative_ridge, const std::string& net, index_t samples,
                     std::vector<std::string>& warnings) {
    NetSpectrum s;
    s.trace = cov.trace();
    symmetric_eigen(std::move(cov), s.values, s.vectors);
    s.values = s.values.cwiseMax(0.0);
    const index_t n = s.values.size();
    const double mean = s.values.sum() / double(n);
    if (s.values(0) < relative_ridge * mean) {
        s.ridge = relative_ridge * mean;
        warnings.push_back("net " + net + ": covariance of its " + std::to_string(n) + " live units is " +
                           (samples <= n ? "rank-deficient (" + std::to_string(samples) + " samples)"
                                         : std::string("ill-conditioned")) +
                           ": smallest eigenvalue " + format(s.values(0)) + ", mean " + format(mean) +
                           "; a ridge of " + format(s.ridge) + " (cca_ridge x mean eigenvalue) was added for "
                           "CCA, SVCCA, PWCCA and the whitening");
    }
    return s;
}

// Sec. 3.1 of Morcos et al. (2018): alpha_i = sum_j |<h_i, x_j>| for the unit
// norm canonical variates h_i = X w_i / ||X w_i|| of one net; with centred
// data <h_i, x_j> = sqrt(N) (S w_i)_j / sqrt(w_i' S w_i). The directions are
// given in the eigenbasis, w_i = V diag(inverse_root) u_i, so S w_i =
// V diag(lambda inverse_root) u_i and w_i' S w_i = sum_j lambda_j (inverse_root_j u_ji)^2.
double projection_weighted(const NetSpectrum& s, const Vector& inverse_root, const Matrix& u, const Vector& rho) {
    const Vector scale = s.values.cwiseProduct(inverse_root);
    const Matrix projected = s.vectors * (scale.asDiagonal() * u);
    const Vector weights = s.values.cwiseProduct(inverse_root.cwiseAbs2());
    double weighted = 0, total = 0;
    for (index_t i = 0; i < u.cols(); ++i) {
        const double norm = std::sqrt(std::max(0.0, weights.dot(u.col(i).cwiseAbs2())));
        if (!(norm > 0)) continue;
        const double alpha = projected.col(i).cwiseAbs().sum() / norm;
        weighted += alpha * rho(i);
        total += alpha;
    }
    return total > 0 ? weighted / total : kNaN;
}

// Smallest k whose top-k eigenvalues hold `fraction` of the total (Raghu et
// al. 2017: the directions explaining 99% of the variance).
index_t kept_dimensions(const Vector& increasing, double fraction) {
    const index_t n = increasing.size();
    const double total = increasing.sum();
    double cumulative = 0;
    for (index_t k = 1; k <= n; ++k) {
        cumulative += increasing(n - k);
        if (cumulative >= fraction * total) return k;
    }
    return n;
}

// netrep whiten(): d = alpha + (1 - alpha) lambda^-1/2, rescaled so that the
// whitened data keeps the total variance (preserve_variance=True).
Vector partial_whitening(const Vector& lambda, double alpha) {
    const Vector root = lambda.cwiseSqrt();
    Vector d = (alpha + (1 - alpha) * root.cwiseInverse().array()).matrix();
    const double new_variance =
        (alpha * alpha * lambda.array() + 2 * alpha * (1 - alpha) * root.array() + (1 - alpha) * (1 - alpha)).sum();
    d *= std::sqrt(lambda.sum() / new_variance);
    return d;
}

Matrix select(const ConstRowMap& m, const std::vector<index_t>& rows, const std::vector<index_t>& cols) {
    Matrix out(index_t(rows.size()), index_t(cols.size()));
    for (index_t j = 0; j < index_t(cols.size()); ++j)
        for (index_t i = 0; i < index_t(rows.size()); ++i) out(i, j) = m(rows[size_t(i)], cols[size_t(j)]);
    return out;
}

// Unbiased HSIC (Song et al. 2012, eq. 5) with linear kernels K = XX', L = YY'
// (K~, L~: zero diagonal), times n(n-3) (which cancels in CKA):
// tr(K~L~) + (1'K~1)(1'L~1)/((n-1)(n-2)) - 2/(n-2) 1'K~L~1, with
//   tr(K~L~) = ||X'Y||_F^2 - sum_i q_x(i) q_y(i),  1'K~1 = ||s_x||^2 - sum_i q_x(i),
//   1'K~L~1 = s_x' X'Y s_y - s_y'(sum_i q_x(i) y_i) - s_x'(sum_i q_y(i) x_i) + sum_i q_x(i) q_y(i).
double scaled_unbiased_hsic(double n, const Matrix& cross, const Vector& sx, const Vector& sy, double qx_sum,
                            double qy_sum, double qxqy, const Vector& y_by_qx, const Vector& x_by_qy) {
    const double trace = cross.squaredNorm() - qxqy;
    const double ones_k = sx.squaredNorm() - qx_sum, ones_l = sy.squaredNorm() - qy_sum;
    const double ones_kl = sx.dot(cross * sy) - sy.dot(y_by_qx) - sx.dot(x_by_qy) + qxqy;
    return trace + ones_k * ones_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * ones_kl;
}

double debiased_cka(const ConstRowMap& sxx, const ConstRowMap& syy, const ConstRowMap& sxy, index_t samples,
                    const HsicPairTerms& t, std::string& note) {
    const index_t p = sxx.rows(), q = syy.rows();
    CVG_REQUIRE(index_t(t.sum_x.size()) == p && index_t(t.x_by_qx.size()) == p && index_t(t.x_by_qy.size()) == p &&
                    index_t(t.sum_y.size()) == q && index_t(t.y_by_qx.size()) == q &&
                    index_t(t.y_by_qy.size()) == q,
                InvalidArgument, "similarity indices: the per-sample terms do not match the covariance sizes");
    if (samples < 4) {
        note = "not available: the unbiased HSIC needs at least 4 samples (" + std::to_string(samples) + ")";
        return kNaN;
    }
    const double n = double(samples);
    const ConstVectorMap sx(t.sum_x.data(), p), sy(t.sum_y.data(), q);
    // Cross moments around the reference: sum_i (x_i - c)(y_i - c)' = N S_xy + s_x s_y' / N.
    const Matrix mxy = n * Matrix(sxy) + sx * sy.transpose() / n;
    const Matrix mxx = n * Matrix(sxx) + sx * sx.transpose() / n;
    const Matrix myy = n * Matrix(syy) + sy * sy.transpose() / n;
    const Vector x_by_qx = ConstVectorMap(t.x_by_qx.data(), p), x_by_qy = ConstVectorMap(t.x_by_qy.data(), p);
    const Vector y_by_qx = ConstVectorMap(t.y_by_qx.data(), q), y_by_qy = ConstVectorMap(t.y_by_qy.data(), q);
    const double kl = scaled_unbiased_hsic(n, mxy, sx, sy, t.norm_sum_x, t.norm_sum_y, t.norm_product, y_by_qx,
                                           x_by_qy);
    const double kk = scaled_unbiased_hsic(n, mxx, sx, sx, t.norm_sum_x, t.norm_sum_x, t.norm_square_x, x_by_qx,
                                           x_by_qx);
    const double ll = scaled_unbiased_hsic(n, myy, sy, sy, t.norm_sum_y, t.norm_sum_y, t.norm_square_y, y_by_qy,
                                           y_by_qy);
    if (!(kk > 0 && ll > 0)) {
        note = "not available: the unbiased HSIC of a net with itself is not positive (HSIC(K,K) = " +
               format(kk / (n * (n - 3))) + ", HSIC(L,L) = " + format(ll / (n * (n - 3))) +
               "); too few samples or a net without live units";
        return kNaN;
    }
    return kl / std::sqrt(kk * ll);
}

}  // namespace

HsicPairTerms hsic_pair_terms(const PerSampleTerms& terms, int net_a, int net_b) {
    const int nets = int(terms.block_widths.size());
    CVG_REQUIRE(net_a >= 0 && net_a < nets && net_b >= 0 && net_b < nets, InvalidArgument,
                "hsic_pair_terms: net index outside [0, " + std::to_string(nets) + ")");
    index_t width = 0;
    std::vector<index_t> offsets;
    for (index_t w : terms.block_widths) offsets.push_back(width), width += w;
    const size_t oa = size_t(offsets[size_t(net_a)]), ob = size_t(offsets[size_t(net_b)]);
    const size_t p = size_t(terms.block_widths[size_t(net_a)]), q = size_t(terms.block_widths[size_t(net_b)]);
    auto slice = [&](const double* base, size_t offset, size_t count) {
        return std::vector<double>(base + offset, base + offset + count);
    };
    const double* wa = terms.weighted_sums.data() + size_t(net_a) * size_t(width);
    const double* wb = terms.weighted_sums.data() + size_t(net_b) * size_t(width);
    HsicPairTerms t;
    t.sum_x = slice(terms.sums.data(), oa, p);
    t.sum_y = slice(terms.sums.data(), ob, q);
    t.norm_sum_x = terms.norm_sums[size_t(net_a)];
    t.norm_sum_y = terms.norm_sums[size_t(net_b)];
    t.norm_square_x = terms.norm_products[size_t(net_a * nets + net_a)];
    t.norm_square_y = terms.norm_products[size_t(net_b * nets + net_b)];
    t.norm_product = terms.norm_products[size_t(net_a * nets + net_b)];
    t.x_by_qx = slice(wa, oa, p);
    t.x_by_qy = slice(wb, oa, p);
    t.y_by_qx = slice(wa, ob, q);
    t.y_by_qy = slice(wb, ob, q);
    return t;
}

SimilarityIndices similarity_indices(const double* cov_xx, const double* cov_yy, const double* cov_xy, index_t p,
                                     index_t q, index_t samples, const SimilarityIndicesOptions& options,
                                     const HsicPairTerms* terms) {
    CVG_REQUIRE(cov_xx != nullptr && cov_yy != nullptr && cov_xy != nullptr, InvalidArgument,
                "similarity indices: a covariance block is NULL");
    CVG_REQUIRE(p >= 1 && q >= 1, InvalidArgument,
                "similarity indices: each net needs at least one unit (" + std::to_string(p) + ", " +
                    std::to_string(q) + ")");
    CVG_REQUIRE(samples >= 2, InvalidArgument,
                "similarity indices: need at least 2 samples (" + std::to_string(samples) + ")");
    CVG_REQUIRE(options.svcca_variance > 0 && options.svcca_variance <= 1, InvalidArgument,
                "similarity indices: svcca_variance must be in (0, 1]");
    CVG_REQUIRE(options.procrustes_alpha >= 0 && options.procrustes_alpha <= 1, InvalidArgument,
                "similarity indices: procrustes_alpha must be in [0, 1]");
    CVG_REQUIRE(options.cca_ridge > 0 && std::isfinite(options.cca_ridge), InvalidArgument,
                "similarity indices: cca_ridge must be > 0");
    const ConstRowMap sxx(cov_xx, p, p), syy(cov_yy, q, q), sxy(cov_xy, p, q);
    CVG_REQUIRE(sxx.allFinite() && syy.allFinite() && sxy.allFinite(), InvalidArgument,
                "similarity indices: a covariance block holds NaN or Inf");
    for (const auto* m : {&sxx, &syy}) {
        const double scale = m->cwiseAbs().maxCoeff();
        CVG_REQUIRE(((*m) - m->transpose()).cwiseAbs().maxCoeff() <= 1e-9 * scale, InvalidArgument,
                    "similarity indices: a within-net covariance block is not symmetric");
    }

    SimilarityIndices r;
    r.units_a = p, r.units_b = q, r.samples = samples;
    r.svcca_variance = options.svcca_variance;
    r.procrustes_alpha = options.procrustes_alpha;

    // Linear CKA (Kornblith et al. 2019, eq. 5 and Sec. 3): dead units have
    // zero covariances and add nothing.
    const double norm_xx = sxx.norm(), norm_yy = syy.norm();
    if (norm_xx > 0 && norm_yy > 0) {
        r.cka = sxy.squaredNorm() / (norm_xx * norm_yy);
    } else {
        r.cka = kNaN;
        r.warnings.push_back("CKA is undefined: a net has no variance on this layer");
    }
    if (terms == nullptr) {
        r.cka_debiased = kNaN;
        r.debiased_note = "not available: computed from covariances only (the unbiased HSIC needs per-sample "
                          "terms gathered during the pass)";
    } else {
        r.cka_debiased = debiased_cka(sxx, syy, sxy, samples, *terms, r.debiased_note);
    }

    // The CCA family on the live units.
    std::vector<index_t> live_x, live_y;
    for (index_t i = 0; i < p; ++i)
        if (sxx(i, i) > 0) live_x.push_back(i);
    for (index_t j = 0; j < q; ++j)
        if (syy(j, j) > 0) live_y.push_back(j);
    r.dead_a = p - index_t(live_x.size());
    r.dead_b = q - index_t(live_y.size());
    if (live_x.empty() || live_y.empty()) {
        r.cca_mean = r.svcca_mean = r.pwcca_a = r.pwcca_b = r.pwcca_symmetric = kNaN;
        r.procrustes_euclidean = r.procrustes_angular = kNaN;
        r.warnings.push_back("CCA, SVCCA, PWCCA and Procrustes are undefined: a net has no live units");
        return r;
    }
    const NetSpectrum nx = spectrum(select(sxx, live_x, live_x), options.cca_ridge, "a", samples, r.warnings);
    const NetSpectrum ny = spectrum(select(syy, live_y, live_y), options.cca_ridge, "b", samples, r.warnings);
    r.ridge_a = nx.ridge, r.ridge_b = ny.ridge;
    // The cross-covariance in the two eigenbases: every index below depends
    // only on it and the eigenvalues (changes of orthonormal basis keep
    // singular values), so each needs a diagonal scaling and one SVD.
    const Matrix rotated = nx.vectors.transpose() * select(sxy, live_x, live_y) * ny.vectors;

    // CCA: S_xx^-1/2 S_xy S_yy^-1/2 = Vx (Dx rotated Dy) Vy' with D = diag(lambda^-1/2);
    // the canonical directions of x are Vx Dx u_i, of y Vy Dy v_i.
    {
        const Vector dx = nx.regularised().cwiseSqrt().cwiseInverse();
        const Vector dy = ny.regularised().cwiseSqrt().cwiseInverse();
        Matrix u, vt;
        const Vector rho = singular_values(dx.asDiagonal() * rotated * dy.asDiagonal(), &u, &vt)
                               .cwiseMin(1.0)
                               .cwiseMax(0.0);
        r.cca.assign(rho.data(), rho.data() + rho.size());
        r.cca_mean = rho.mean();
        // PWCCA (Morcos et al. 2018, Sec. 3.1).
        r.pwcca_a = projection_weighted(nx, dx, u, rho);
        r.pwcca_b = projection_weighted(ny, dy, vt.transpose(), rho);
        r.pwcca_symmetric = 0.5 * (r.pwcca_a + r.pwcca_b);
    }

    // SVCCA (Raghu et al. 2017): CCA of each net's top principal subspace,
    // whose covariance is diag(lambda) in the eigenbasis (eigenvalues
    // increasing: the top ones are the last).
    {
        const index_t kx = kept_dimensions(nx.values, options.svcca_variance);
        const index_t ky = kept_dimensions(ny.values, options.svcca_variance);
        r.svcca_dims_a = kx, r.svcca_dims_b = ky;
        const Vector dx = nx.regularised().tail(kx).cwiseSqrt().cwiseInverse();
        const Vector dy = ny.regularised().tail(ky).cwiseSqrt().cwiseInverse();
        const Vector rho = singular_values(dx.asDiagonal() * rotated.bottomRightCorner(kx, ky) * dy.asDiagonal())
                               .cwiseMin(1.0)
                               .cwiseMax(0.0);
        r.svcca.assign(rho.data(), rho.data() + rho.size());
        r.svcca_mean = rho.mean();
    }

    // Orthogonal Procrustes (Williams et al. 2021; netrep LinearMetric with
    // partial whitening, per sample): Zx S_xy Zy = Vx (dx rotated dy) Vy'.
    {
        const double alpha = options.procrustes_alpha;
        double nuclear = 0, tx = 0, ty = 0;
        if (alpha > 1 - kNoWhiteningTolerance) {
            nuclear = singular_values(rotated).sum();
            tx = nx.trace, ty = ny.trace;
        } else {
            const Vector dx = partial_whitening(nx.regularised(), alpha);
            const Vector dy = partial_whitening(ny.regularised(), alpha);
            nuclear = singular_values(dx.asDiagonal() * rotated * dy.asDiagonal()).sum();
            tx = dx.cwiseAbs2().dot(nx.values), ty = dy.cwiseAbs2().dot(ny.values);
        }
        r.procrustes_euclidean = std::sqrt(std::max(0.0, tx + ty - 2 * nuclear));
        r.procrustes_angular = std::acos(std::clamp(nuclear / std::sqrt(tx * ty), -1.0, 1.0));
    }
    return r;
}

SimilarityIndices similarity_indices_from_data(const double* x, const double* y, index_t rows, index_t p, index_t q,
                                               const SimilarityIndicesOptions& options) {
    CVG_REQUIRE(x != nullptr && y != nullptr, InvalidArgument, "similarity indices: data is NULL");
    CVG_REQUIRE(rows >= 2 && p >= 1 && q >= 1, InvalidArgument,
                "similarity indices: need at least 2 samples and one unit per net");
    const ConstRowMap mx(x, rows, p), my(y, rows, q);
    CVG_REQUIRE(mx.allFinite() && my.allFinite(), BadData, "similarity indices: the data holds NaN or Inf");
    const double n = double(rows);
    const Vector mean_x = mx.colwise().mean().transpose(), mean_y = my.colwise().mean().transpose();
    const Matrix cx = mx.rowwise() - mean_x.transpose(), cy = my.rowwise() - mean_y.transpose();
    RowMatrix sxx = cx.transpose() * cx / n, syy = cy.transpose() * cy / n, sxy = cx.transpose() * cy / n;
    // Dead units as in LayerStatistics (statistics.hpp): zero covariances.
    auto kill = [](RowMatrix& within, RowMatrix& between, const Vector& mean, bool rows_of_between) {
        for (index_t i = 0; i < within.rows(); ++i) {
            const double sd = std::sqrt(std::max(0.0, within(i, i)));
            if (!(sd == 0.0 || sd <= 4.0 * FLT_EPSILON * std::fabs(mean(i)))) continue;
            within.row(i).setZero();
            within.col(i).setZero();
            if (rows_of_between) between.row(i).setZero();
            else between.col(i).setZero();
        }
    };
    kill(sxx, sxy, mean_x, true);
    kill(syy, sxy, mean_y, false);
    // Per-sample sums around the column means.
    const Vector qx = cx.rowwise().squaredNorm(), qy = cy.rowwise().squaredNorm();
    HsicPairTerms t;
    auto to_vector = [](const Vector& v) { return std::vector<double>(v.data(), v.data() + v.size()); };
    t.sum_x = to_vector(cx.colwise().sum().transpose());
    t.sum_y = to_vector(cy.colwise().sum().transpose());
    t.norm_sum_x = qx.sum(), t.norm_sum_y = qy.sum();
    t.norm_square_x = qx.squaredNorm(), t.norm_square_y = qy.squaredNorm(), t.norm_product = qx.dot(qy);
    t.x_by_qx = to_vector(cx.transpose() * qx);
    t.x_by_qy = to_vector(cx.transpose() * qy);
    t.y_by_qx = to_vector(cy.transpose() * qx);
    t.y_by_qy = to_vector(cy.transpose() * qy);
    return similarity_indices(sxx.data(), syy.data(), sxy.data(), p, q, rows, options, &t);
}

}  // namespace convergent
