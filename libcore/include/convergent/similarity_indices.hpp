// Whole-layer similarity indices of two nets, from streamed second moments
// (no second pass over the data), beside the paper's unit matching (Li et
// al. 2016, Sec. 3.1: one-to-one matching is low where a layer is the same
// up to a rotation; these indices are invariant to rotations):
//
//  - linear CKA (Kornblith et al. 2019, eq. 5 with a linear kernel):
//    ||S_xy||_F^2 / (||S_xx||_F ||S_yy||_F) on centred features;
//  - debiased linear CKA: CKA on the unbiased HSIC estimator of Song et al.
//    (2012), as used by Kornblith et al. (2019) and Nguyen et al. (2021).
//    With linear kernels every term of HSIC_1 is a cross-moment matrix or a
//    per-sample sum (||x_i||^2, sum_i ||x_i||^2 ||y_i||^2, sum_i
//    ||y_i||^2 x_i, ...), gathered in the same streaming pass
//    (PerSampleTerms). HSIC_1 is invariant to a constant shift of the
//    features, so the sums are taken around a reference point (the first
//    chunk's mean) to avoid cancellation;
//  - CCA: the singular values of S_xx^-1/2 S_xy S_yy^-1/2 (every canonical
//    correlation) and their mean;
//  - SVCCA (Raghu et al. 2017): per net, the top principal directions that
//    explain a fraction of the variance, then CCA of the reduced subspaces;
//  - PWCCA (Morcos et al. 2018): canonical correlations weighted by
//    alpha_i = sum_j |<h_i, x_j>| over the units x_j of one net (h_i its unit
//    norm canonical variates), normalised to sum 1;
//  - orthogonal Procrustes distances (Williams et al. 2021, netrep's
//    LinearMetric): with netrep's partial whitening Z = a I + (1 - a)
//    S^-1/2 (rescaled to preserve the total variance),
//    Euclidean sqrt(tr(Z S_xx Z) + tr(Z S_yy Z) - 2 ||Zx S_xy Zy||_*) and
//    angular arccos(||Zx S_xy Zy||_* / sqrt(tr(Zx S_xx Zx) tr(Zy S_yy Zy))).
//
// S are population covariances (divided by the sample count N), so the
// Euclidean Procrustes distance is per sample (netrep's, divided by sqrt N),
// and the whitening mixes I with the covariance's, not X'X's, inverse root
// (netrep whitens X'X: its alpha then depends on N).
//
// Dead units (zero variance) are left out of the CCA family and the
// whitening (the result counts them); they add nothing to CKA. A covariance
// whose smallest live eigenvalue is below ridge x its mean eigenvalue
// (rank-deficient, e.g. fewer samples than units) gets ridge x mean
// eigenvalue added to its diagonal for CCA, SVCCA, PWCCA and the whitening,
// with a warning in the result; no index is ever NaN without a note.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convergent/error.hpp"

namespace convergent {

struct SimilarityIndicesOptions {
    double svcca_variance = 0.99;  // fraction of each net's variance its SVCCA subspace keeps, in (0, 1]
    double procrustes_alpha = 1.0; // netrep's alpha: 1 = rotations only, 0 = full whitening (CCA-like)
    double cca_ridge = 1e-6;       // relative ridge for ill-conditioned covariances (see above)
};

// The sums of one layer's per-sample terms that debiased CKA needs beyond
// the covariances, over all nets' units side by side (T columns, nets in
// order), around a reference point c. For sample i and net m,
// q_m(i) = ||x_m(i) - c_m||^2 (the squared norm of net m's shifted row).
struct PerSampleTerms {
    std::vector<index_t> block_widths;
    index_t samples = 0;
    std::vector<double> reference;      // c, T
    std::vector<double> sums;           // sum_i (x(i) - c), T
    std::vector<double> norm_sums;      // per net m: sum_i q_m(i)
    std::vector<double> norm_products;  // nets x nets row-major: sum_i q_m(i) q_n(i)
    std::vector<double> weighted_sums;  // nets x T row-major: sum_i q_m(i) (x(i) - c)
    // Non-empty when the terms could not be gathered (device-pushed batches):
    // then debiased CKA reports this instead of a value.
    std::string unavailable;
};

// The per-sample sums of one net pair (x = net a, y = net b), around any
// fixed reference point; the views of PerSampleTerms for a pair, or of two
// data matrices (similarity_indices_from_data).
struct HsicPairTerms {
    std::vector<double> sum_x, sum_y;    // sum_i (x_i - c_x) (p), (y_i - c_y) (q)
    double norm_sum_x = 0, norm_sum_y = 0;                        // sum_i q_x(i), sum_i q_y(i)
    double norm_square_x = 0, norm_square_y = 0, norm_product = 0;  // sum q_x^2, q_y^2, q_x q_y
    std::vector<double> x_by_qx, x_by_qy;  // sum_i q_x(i) (x_i - c_x), sum_i q_y(i) (x_i - c_x)   (p)
    std::vector<double> y_by_qx, y_by_qy;  // (q)
};

HsicPairTerms hsic_pair_terms(const PerSampleTerms& terms, int net_a, int net_b);

struct SimilarityIndices {
    index_t units_a = 0, units_b = 0, samples = 0;
    index_t dead_a = 0, dead_b = 0;  // left out of CCA, SVCCA, PWCCA and the whitening
    double cka = 0;
    // Debiased CKA; NaN with debiased_note saying why when not available.
    double cka_debiased = 0;
    std::string debiased_note;
    std::vector<double> cca;  // canonical correlations, decreasing (min of the live units)
    double cca_mean = 0;
    std::vector<double> svcca;  // canonical correlations of the reduced subspaces
    double svcca_mean = 0;
    index_t svcca_dims_a = 0, svcca_dims_b = 0;
    double svcca_variance = 0;
    // PWCCA with the weights of net a's canonical variates (Morcos et al.'s
    // definition, first argument), of net b's, and their average.
    double pwcca_a = 0, pwcca_b = 0, pwcca_symmetric = 0;
    double procrustes_alpha = 1;
    double procrustes_euclidean = 0, procrustes_angular = 0;
    double ridge_a = 0, ridge_b = 0;  // ridge added to each covariance (0: none needed)
    std::vector<std::string> warnings;
};

// From the population covariance blocks of two nets (row-major, S_xx p x p,
// S_yy q x q, S_xy p x q) of `samples` samples. terms: the per-sample sums
// for debiased CKA, or nullptr (then it is reported as not available).
// Throws InvalidArgument (sizes, non-finite or asymmetric input).
SimilarityIndices similarity_indices(const double* cov_xx, const double* cov_yy, const double* cov_xy, index_t p,
                                     index_t q, index_t samples, const SimilarityIndicesOptions& options,
                                     const HsicPairTerms* terms = nullptr);

// In memory: x (rows x p) and y (rows x q), row-major float64, one sample per
// row (conv layers: one row per image position). Covariances and the
// per-sample sums are computed around the column means in float64.
SimilarityIndices similarity_indices_from_data(const double* x, const double* y, index_t rows, index_t p, index_t q,
                                               const SimilarityIndicesOptions& options);

}  // namespace convergent
