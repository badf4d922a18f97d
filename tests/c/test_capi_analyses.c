/* The analyses on a finalised cvg_stats through the C ABI: sparse prediction
 * (checked by the lasso optimality conditions on correlations read back),
 * spectral clustering (a planted two-group structure, Sec. 6.6 similarities
 * recomputed here), mean activation (sorted means, RMS distance, spread), and
 * every error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define N 2000
#define U 6 /* units per net: two groups of 3 sharing a latent factor */

static float xa[N][U], xb[N][U];
static unsigned rng = 2024;
static double uniform(void) {
    rng = rng * 1103515245u + 12345u;
    return ((rng >> 8) & 0xFFFF) / 65536.0 - 0.5;
}

static int cmp_desc(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a > b ? -1 : a < b;
}

int main(void) {
    for (int i = 0; i < N; ++i) {
        double f0 = uniform(), f1 = uniform();
        for (int u = 0; u < U; ++u) {
            double f = u < 3 ? f0 : f1;
            xa[i][u] = (float)(f + 0.3 * uniform() + 0.1 * u);
            xb[i][u] = (float)(2.0 * f + 0.6 * uniform() - 0.05 * u);
        }
    }
    const int64_t units[2] = {U, U};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    int32_t nets = 0;
    int64_t width = 0;
    CHECK(cvg_stats_nets(st, &nets) == CVG_OK && nets == 2);
    CHECK(cvg_stats_units(st, 1, &width) == CVG_OK && width == U);
    CHECK(cvg_stats_nets(st, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_units(st, 2, &width) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_units(st, 0, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_units(NULL, 0, &width) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push(st, 0, &xa[0][0], N, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, &xb[0][0], N, U, CVG_ROW_MAJOR) == CVG_OK);

    /* not finalised yet: every analysis refuses */
    cvg_sparse *sp = (cvg_sparse *)0x1;
    cvg_clustering *cl = (cvg_clustering *)0x1;
    double sorted[U], ratio = 0, distance = 0, spread = 0;
    CHECK(cvg_sparse_prediction(&sp, st, 0, 1, NULL) == CVG_E_INVALID_ARG && sp == NULL);
    CHECK(strstr(cvg_last_error(), "finalise") != NULL);
    CHECK(cvg_spectral_clustering(&cl, st, 0, 1, NULL) == CVG_E_INVALID_ARG && cl == NULL);
    CHECK(cvg_mean_activation_sorted(st, 0, sorted, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_distance(st, 0, 1, &distance) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_ratio(st, &ratio) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_finalize(st) == CVG_OK);

    double R[U * U], r[U * U]; /* corr(b, b) and corr(a, b) */
    CHECK(cvg_stats_correlation(st, 1, 1, R, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_correlation(st, 0, 1, r, U, CVG_ROW_MAJOR) == CVG_OK);

    /* ---- sparse prediction: a targets net 0 from net 1 ---- */
    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "10,0.2,0.05,0.001") == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_LASSO_KEEP_WEIGHTS, 1) == CVG_OK);
    CHECK(cvg_options_set_double(o, CVG_OPT_LASSO_TOL, 1e-10) == CVG_OK);
    CHECK(cvg_sparse_prediction(&sp, st, 0, 1, o) == CVG_OK);
    int64_t n_alphas = 0, targets = 0, predictors = 0;
    CHECK(cvg_sparse_shape(sp, &n_alphas, &targets, &predictors) == CVG_OK);
    CHECK(n_alphas == 4 && targets == U && predictors == U);
    double alphas[4], mean_loss[4], mean_nz[4], gaps[4], loss[4 * U], w[U * U];
    int32_t converged[4];
    int64_t nonzero[U * 4]; /* column-major: n_alphas x targets, ld 4 */
    CHECK(cvg_sparse_alphas(sp, alphas) == CVG_OK && alphas[0] == 10 && alphas[3] == 0.001);
    CHECK(cvg_sparse_mean_loss(sp, mean_loss) == CVG_OK);
    CHECK(cvg_sparse_mean_nonzero(sp, mean_nz) == CVG_OK);
    CHECK(cvg_sparse_max_duality_gap(sp, gaps) == CVG_OK);
    CHECK(cvg_sparse_converged(sp, converged) == CVG_OK);
    CHECK(cvg_sparse_loss(sp, loss, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_sparse_nonzero(sp, nonzero, 4, CVG_COL_MAJOR) == CVG_OK);
    /* alpha = 10 > every |corr|: all weights zero, loss 0.5 (predicting nothing) */
    CHECK(mean_loss[0] == 0.5 && mean_nz[0] == 0.0);
    for (int a = 1; a < 4; ++a) CHECK(mean_loss[a] < mean_loss[a - 1]); /* weaker L1, better fit */
    for (int a = 0; a < 4; ++a) {
        CHECK(converged[a] == 1 && gaps[a] < 1e-9);
        CHECK(cvg_sparse_weights(sp, a, w, U, CVG_ROW_MAJOR) == CVG_OK);
        double loss_sum = 0, nz_sum = 0;
        for (int t = 0; t < U; ++t) {
            /* loss = 0.5 (1 - 2 w.r + w.R w) and the lasso KKT conditions:
             * |r_j - (R w)_j| <= alpha, = alpha * sign(w_j) where w_j != 0 */
            double wr = 0, wRw = 0;
            int nz = 0;
            for (int j = 0; j < U; ++j) {
                double Rw = 0;
                for (int k = 0; k < U; ++k) Rw += R[j * U + k] * w[t * U + k];
                double grad = r[t * U + j] - Rw;
                wr += w[t * U + j] * r[t * U + j];
                wRw += w[t * U + j] * Rw;
                if (w[t * U + j] != 0) {
                    ++nz;
                    CHECK(fabs(grad - alphas[a] * (w[t * U + j] > 0 ? 1 : -1)) < 1e-4);
                } else {
                    CHECK(fabs(grad) <= alphas[a] + 1e-4);
                }
            }
            CHECK(fabs(loss[a * U + t] - 0.5 * (1 - 2 * wr + wRw)) < 1e-9);
            CHECK(nonzero[t * 4 + a] == nz);
            loss_sum += loss[a * U + t];
            nz_sum += nz;
        }
        CHECK(fabs(mean_loss[a] - loss_sum / U) < 1e-12);
        CHECK(fabs(mean_nz[a] - nz_sum / U) < 1e-12);
    }
    /* sparse error paths */
    CHECK(cvg_sparse_prediction(NULL, st, 0, 1, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_prediction(&sp, NULL, 0, 1, o) == CVG_E_INVALID_ARG);
    cvg_sparse *sp2 = NULL;
    CHECK(cvg_sparse_prediction(&sp2, st, 0, 0, o) == CVG_E_INVALID_ARG && sp2 == NULL);
    CHECK(cvg_sparse_prediction(&sp2, st, 0, 2, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_prediction(&sp2, st, -1, 1, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_shape(NULL, &n_alphas, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_alphas(sp, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_alphas(NULL, alphas) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_mean_loss(sp, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_mean_nonzero(sp, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_max_duality_gap(sp, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_converged(sp, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_loss(sp, NULL, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_loss(sp, loss, U - 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_loss(sp, loss, 3, CVG_COL_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_nonzero(sp, nonzero, 4, 2) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_nonzero(sp, NULL, 4, CVG_COL_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_weights(sp, 4, w, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_weights(sp, -1, w, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_weights(sp, 0, NULL, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_sparse_weights(sp, 0, w, U - 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    /* weights not kept by default */
    CHECK(cvg_sparse_prediction(&sp2, st, 1, 0, NULL) == CVG_OK);
    CHECK(cvg_sparse_shape(sp2, &n_alphas, NULL, NULL) == CVG_OK && n_alphas > 1);
    CHECK(cvg_sparse_weights(sp2, 0, w, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "CVG_OPT_LASSO_KEEP_WEIGHTS") != NULL);
    cvg_sparse_destroy(sp2);
    cvg_sparse_destroy(sp);

    /* ---- spectral clustering: the planted groups {0,1,2} and {3,4,5} ---- */
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTER_HIERARCHICAL, 0) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_SEED, 3) == CVG_OK);
    CHECK(cvg_spectral_clustering(&cl, st, 0, 1, o) == CVG_OK);
    int64_t n_clusters = 0, k = 0, k_gap = 0, count = 0;
    CHECK(cvg_clustering_count(cl, &n_clusters) == CVG_OK && n_clusters == 2);
    CHECK(cvg_clustering_k(cl, &k, &k_gap) == CVG_OK && k == 2 && k_gap == 2);
    double eig[64];
    CHECK(cvg_clustering_eigenvalues(cl, &count, NULL, 0) == CVG_OK && count >= 3 && count <= 64);
    CHECK(cvg_clustering_eigenvalues(cl, &count, eig, 64) == CVG_OK);
    CHECK(fabs(eig[0]) < 1e-9 && fabs(eig[1]) < 1e-9 && eig[2] > 0.1); /* two components */
    for (int i = 1; i < count; ++i) CHECK(eig[i] >= eig[i - 1] - 1e-12);
    int64_t perm[2 * U];
    CHECK(cvg_clustering_permutation(cl, &count, perm, 2 * U) == CVG_OK && count == 2 * U);
    int seen[2 * U] = {0};
    for (int i = 0; i < 2 * U; ++i) seen[perm[i]]++;
    for (int i = 0; i < 2 * U; ++i) CHECK(seen[i] == 1);
    int64_t leaves[2];
    double between[2], within[2];
    CHECK(cvg_clustering_leaves(cl, &count, leaves, 2) == CVG_OK && count == 2);
    CHECK(cvg_clustering_similarities(cl, &count, between, within, 2) == CVG_OK && count == 2);
    CHECK(between[0] >= between[1]);
    for (int64_t id = 0; id < n_clusters; ++id) {
        int64_t parent = 7, ma[U], mb[U], na = 0, nb = 0, nch = -1;
        int32_t depth = -1, leaf = -1;
        double b_sim = 0, w_sim = 0;
        CHECK(cvg_clustering_node(cl, id, &parent, &depth, &leaf, &b_sim, &w_sim) == CVG_OK);
        CHECK(parent == -1 && depth == 0 && leaf == 1);
        CHECK(cvg_clustering_members(cl, id, 0, &na, ma, U) == CVG_OK && na == 3);
        CHECK(cvg_clustering_members(cl, id, 1, &nb, mb, U) == CVG_OK && nb == 3);
        CHECK(cvg_clustering_children(cl, id, &nch, NULL, 0) == CVG_OK && nch == 0);
        /* the same group on both sides */
        CHECK(ma[0] == mb[0] && ma[2] == mb[2] && (ma[0] == 0 || ma[0] == 3));
        /* Sec. 6.6 between-net similarity: mean corr(a, b) over member pairs */
        double sum = 0;
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) sum += r[ma[i] * U + mb[j]];
        CHECK(fabs(b_sim - sum / 9) < 1e-12);
        CHECK(w_sim > 0.3);
        CHECK(b_sim == between[leaves[0] == id ? 0 : 1]);
    }
    /* clustering error paths */
    int64_t buf[U];
    CHECK(cvg_spectral_clustering(NULL, st, 0, 1, o) == CVG_E_INVALID_ARG);
    cvg_clustering *cl2 = (cvg_clustering *)0x1;
    CHECK(cvg_spectral_clustering(&cl2, NULL, 0, 1, o) == CVG_E_INVALID_ARG && cl2 == NULL);
    CHECK(cvg_spectral_clustering(&cl2, st, 1, 1, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_spectral_clustering(&cl2, st, 0, 5, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTER_K, 13) == CVG_OK); /* more clusters than units: clamped */
    CHECK(cvg_spectral_clustering(&cl2, st, 0, 1, o) == CVG_OK);
    CHECK(cvg_clustering_k(cl2, &k, &k_gap) == CVG_OK && k == 2 * U && k_gap == 2);
    cvg_clustering_destroy(cl2);
    CHECK(cvg_clustering_count(cl, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_count(NULL, &n_clusters) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_k(cl, NULL, &k_gap) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_k(cl, &k, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_node(cl, 2, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_node(cl, -1, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_node(NULL, 0, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_members(cl, 0, 2, &count, buf, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_members(cl, 5, 0, &count, buf, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_members(cl, 0, 0, NULL, buf, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_members(cl, 0, 0, &count, buf, 2) == CVG_E_INVALID_ARG && count == 3);
    CHECK(cvg_clustering_children(cl, 9, &count, buf, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_children(cl, 0, NULL, buf, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_eigenvalues(cl, NULL, eig, 64) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_eigenvalues(cl, &count, eig, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_leaves(cl, &count, leaves, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_leaves(cl, NULL, leaves, 2) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_similarities(cl, NULL, between, within, 2) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_similarities(cl, &count, between, NULL, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_permutation(cl, &count, perm, 2 * U - 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_clustering_permutation(NULL, &count, perm, 2 * U) == CVG_E_INVALID_ARG);
    cvg_clustering_destroy(cl);

    /* hierarchical default run: a tree whose leaves partition the units */
    CHECK(cvg_spectral_clustering(&cl, st, 0, 1, NULL) == CVG_OK);
    CHECK(cvg_clustering_leaves(cl, &count, NULL, 0) == CVG_OK && count >= 2);
    cvg_clustering_destroy(cl);

    /* ---- mean activation ---- */
    double mean_a[U], mean_b[U], sorted_b[U], spread_b = 0;
    CHECK(cvg_stats_mean(st, 0, mean_a) == CVG_OK && cvg_stats_mean(st, 1, mean_b) == CVG_OK);
    CHECK(cvg_mean_activation_sorted(st, 0, sorted, &spread) == CVG_OK);
    CHECK(cvg_mean_activation_sorted(st, 1, sorted_b, NULL) == CVG_OK);
    CHECK(cvg_mean_activation_sorted(st, 1, sorted_b, &spread_b) == CVG_OK);
    qsort(mean_a, U, sizeof(double), cmp_desc);
    qsort(mean_b, U, sizeof(double), cmp_desc);
    double mu = 0, var = 0, rms = 0, mu_b = 0, var_b = 0;
    for (int i = 0; i < U; ++i) {
        CHECK(sorted[i] == mean_a[i] && sorted_b[i] == mean_b[i]);
        mu += mean_a[i] / U;
        mu_b += mean_b[i] / U;
        rms += (mean_a[i] - mean_b[i]) * (mean_a[i] - mean_b[i]) / U;
    }
    for (int i = 0; i < U; ++i) {
        var += (mean_a[i] - mu) * (mean_a[i] - mu) / U;
        var_b += (mean_b[i] - mu_b) * (mean_b[i] - mu_b) / U;
    }
    CHECK(fabs(spread - sqrt(var)) < 1e-12 && fabs(spread_b - sqrt(var_b)) < 1e-12);
    CHECK(cvg_mean_activation_distance(st, 0, 1, &distance) == CVG_OK && fabs(distance - sqrt(rms)) < 1e-12);
    double d10 = -1;
    CHECK(cvg_mean_activation_distance(st, 1, 0, &d10) == CVG_OK && d10 == distance);
    CHECK(cvg_mean_activation_distance(st, 1, 1, &d10) == CVG_OK && d10 == 0.0);
    CHECK(cvg_mean_activation_ratio(st, &ratio) == CVG_OK);
    CHECK(fabs(ratio - distance / ((spread + spread_b) / 2)) < 1e-12);
    CHECK(cvg_mean_activation_sorted(NULL, 0, sorted, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_sorted(st, 2, sorted, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_sorted(st, 0, NULL, &spread) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_distance(st, 0, -1, &distance) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_distance(st, 0, 1, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_distance(NULL, 0, 1, &distance) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_ratio(st, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_mean_activation_ratio(NULL, &ratio) == CVG_E_INVALID_ARG);
    /* one net: the ratio is undefined (NaN) */
    cvg_stats *one = NULL;
    CHECK(cvg_stats_create(&one, 1, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push(one, 0, &xa[0][0], 10, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_finalize(one) == CVG_OK);
    CHECK(cvg_mean_activation_ratio(one, &ratio) == CVG_OK && isnan(ratio));
    cvg_stats_destroy(one);

    /* ---- the stats' backend: CUDA without a device ---- */
    cvg_stats *gpu = NULL;
    int rc = cvg_stats_create(&gpu, 2, units, CVG_BACKEND_CUDA);
    if (cvg_cuda_device_available()) {
        CHECK(rc == CVG_OK && strcmp(cvg_stats_backend(gpu), "cuda") == 0);
    } else {
        CHECK(rc == CVG_E_UNSUPPORTED && gpu == NULL);
    }
    cvg_stats_destroy(gpu);
    /* finalising without samples */
    CHECK(cvg_stats_create(&one, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_finalize(one) == CVG_E_INVALID_ARG);
    cvg_stats_destroy(one);

    cvg_options_destroy(o);
    cvg_stats_destroy(st);
    return check_summary();
}
