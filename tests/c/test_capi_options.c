/* cvg_options_* from C99: defaults, round trips, every error path, and the
 * live-handle registry (use after destroy, wrong handle type, double destroy)
 * of every handle type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

static int64_t get_int(const cvg_options *o, int32_t key) {
    int64_t v = -12345;
    CHECK(cvg_options_get_int(o, key, &v) == CVG_OK);
    return v;
}

static double get_double(const cvg_options *o, int32_t key) {
    double v = -12345;
    CHECK(cvg_options_get_double(o, key, &v) == CVG_OK);
    return v;
}

static const char *get_string(const cvg_options *o, int32_t key) {
    static char buf[256];
    int64_t len = -1;
    CHECK(cvg_options_get_string(o, key, NULL, 0, &len) == CVG_OK);
    CHECK(len >= 0 && len < (int64_t)sizeof buf);
    CHECK(cvg_options_get_string(o, key, buf, sizeof buf, &len) == CVG_OK);
    CHECK((int64_t)strlen(buf) == len);
    return buf;
}

int main(void) {
    cvg_options *o = NULL;
    CHECK(cvg_options_create(NULL) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "out is NULL") != NULL);
    CHECK(cvg_options_create(&o) == CVG_OK && o != NULL);
    CHECK(cvg_last_error()[0] == '\0');

    /* defaults: the CLI's and the paper's */
    CHECK(get_int(o, CVG_OPT_BACKEND) == CVG_BACKEND_AUTO);
    CHECK(get_int(o, CVG_OPT_SEED) == 0);
    CHECK(get_int(o, CVG_OPT_MI_BINS) == 20);
    CHECK(get_int(o, CVG_OPT_MI_SAMPLES) == 60000);
    CHECK(get_int(o, CVG_OPT_MATCHING) == 1);
    CHECK(get_int(o, CVG_OPT_OVERWRITE) == 0);
    CHECK(get_int(o, CVG_OPT_CLUSTER_K) == -1); /* the paper's k/S ratio */
    CHECK(get_int(o, CVG_OPT_LASSO_MAX_ITER) == 10000);
    CHECK(get_double(o, CVG_OPT_CLUSTER_TAU) == 0.2);
    CHECK(get_double(o, CVG_OPT_CLUSTER_ALPHA) == 0.025);
    CHECK(get_double(o, CVG_OPT_MI_ZERO_THRESHOLD) == 1e-6);
    CHECK(strcmp(get_string(o, CVG_OPT_LAYERS), "") == 0);
    CHECK(strcmp(get_string(o, CVG_OPT_LASSO_ALPHAS), "") == 0);
    CHECK(strcmp(get_string(o, CVG_OPT_BACKEND), "auto") == 0);

    /* round trips */
    CHECK(cvg_options_set_int(o, CVG_OPT_SEED, 77) == CVG_OK && get_int(o, CVG_OPT_SEED) == 77);
    CHECK(cvg_options_set_int(o, CVG_OPT_BACKEND, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(get_int(o, CVG_OPT_BACKEND) == CVG_BACKEND_CPU);
    CHECK(cvg_options_set_string(o, CVG_OPT_BACKEND, "cuda") == CVG_OK);
    CHECK(get_int(o, CVG_OPT_BACKEND) == CVG_BACKEND_CUDA);
    CHECK(cvg_options_set_string(o, CVG_OPT_BACKEND, "1") == CVG_OK);
    CHECK(get_int(o, CVG_OPT_BACKEND) == CVG_BACKEND_CPU);
    CHECK(cvg_options_set_double(o, CVG_OPT_CLUSTER_TAU, 0.35) == CVG_OK);
    CHECK(get_double(o, CVG_OPT_CLUSTER_TAU) == 0.35);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTER_TAU, 1) == CVG_OK); /* int -> double key */
    CHECK(get_double(o, CVG_OPT_CLUSTER_TAU) == 1.0);
    CHECK(cvg_options_set_string(o, CVG_OPT_CLUSTER_ALPHA, " 0.05 ") == CVG_OK);
    CHECK(get_double(o, CVG_OPT_CLUSTER_ALPHA) == 0.05);
    CHECK(cvg_options_set_string(o, CVG_OPT_MI_BINS, "10") == CVG_OK && get_int(o, CVG_OPT_MI_BINS) == 10);
    CHECK(cvg_options_set_string(o, CVG_OPT_LAYERS, "conv1, fc6 ,x") == CVG_OK);
    CHECK(strcmp(get_string(o, CVG_OPT_LAYERS), "conv1,fc6,x") == 0);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "0.5,0.25") == CVG_OK);
    CHECK(strcmp(get_string(o, CVG_OPT_LASSO_ALPHAS), "0.5,0.25") == 0);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "") == CVG_OK);
    CHECK(strcmp(get_string(o, CVG_OPT_LASSO_ALPHAS), "") == 0);
    CHECK(strcmp(get_string(o, CVG_OPT_SEED), "77") == 0);
    CHECK(strcmp(get_string(o, CVG_OPT_CLUSTER_ALPHA), "0.050000000000000003") == 0);
    {
        /* every key answers a string query */
        for (int32_t key = CVG_OPT_BACKEND; key <= CVG_OPT_CLUSTER_NORMALIZE_ROWS; ++key) {
            int64_t len = -1;
            CHECK(cvg_options_get_string(o, key, NULL, 0, &len) == CVG_OK && len >= 0);
        }
    }

    /* error paths: unknown keys, wrong types, out-of-range values; a rejected
     * value leaves the option unchanged */
    CHECK(cvg_options_set_int(o, 0, 1) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "unknown option key 0") != NULL);
    CHECK(cvg_options_set_int(o, 9999, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, -5, 1.0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, 1000, "x") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_int(o, 1000, &(int64_t){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_double(o, 1000, &(double){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_string(o, 1000, NULL, 0, &(int64_t){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_SEED, 1.5) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "cvg_options_set_int") != NULL);
    CHECK(cvg_options_set_int(o, CVG_OPT_LAYERS, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_LASSO_ALPHAS, 0.1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_int(o, CVG_OPT_CLUSTER_TAU, &(int64_t){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_double(o, CVG_OPT_SEED, &(double){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_int(o, CVG_OPT_SEED, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_double(o, CVG_OPT_CLUSTER_TAU, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_string(o, CVG_OPT_SEED, NULL, 0, NULL) == CVG_E_INVALID_ARG);
    {
        char small[2];
        int64_t len = 0;
        CHECK(cvg_options_get_string(o, CVG_OPT_SEED, small, 2, &len) == CVG_E_INVALID_ARG && len == 2);
        char fits[3];
        CHECK(cvg_options_get_string(o, CVG_OPT_SEED, fits, 3, &len) == CVG_OK && strcmp(fits, "77") == 0);
    }
    CHECK(cvg_options_set_int(o, CVG_OPT_SEED, -1) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "CVG_OPT_SEED") != NULL);
    CHECK(get_int(o, CVG_OPT_SEED) == 77);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTER_SPLIT_K, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTER_SPLIT_K, 3) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_BACKEND, 3) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_BACKEND, "gpu") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_BINS, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_BINS, 255) == CVG_E_INVALID_ARG && get_int(o, CVG_OPT_MI_BINS) == 10);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_SAMPLES, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_CHUNK_ROWS, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_OVERWRITE, 2) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_MATCHING, -1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTER_K, -2) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_KMEANS_N_INIT, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_LASSO_MAX_ITER, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_CLUSTER_TAU, -0.1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_CLUSTER_TAU, NAN) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_CLUSTER_ALPHA, 0.0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_LASSO_TOL, INFINITY) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_LASSO_TOL, 0.0) == CVG_E_INVALID_ARG);
    CHECK(get_double(o, CVG_OPT_CLUSTER_ALPHA) == 0.05);
    CHECK(cvg_options_set_string(o, CVG_OPT_SEED, "12abc") == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not an integer") != NULL);
    CHECK(cvg_options_set_string(o, CVG_OPT_SEED, "") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_CLUSTER_TAU, "x") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "0.1,-0.2") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "0.1,,0.2") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "0.1,abc") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "0.1,") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(o, CVG_OPT_LAYERS, "a,,b") == CVG_E_INVALID_ARG);
    CHECK(strcmp(get_string(o, CVG_OPT_LAYERS), "conv1,fc6,x") == 0);
    CHECK(cvg_options_set_string(o, CVG_OPT_LAYERS, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(NULL, CVG_OPT_SEED, 1) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "opts is NULL") != NULL);
    CHECK(cvg_options_set_double(NULL, CVG_OPT_CLUSTER_TAU, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_string(NULL, CVG_OPT_LAYERS, "") == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_int(NULL, CVG_OPT_SEED, &(int64_t){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_double(NULL, CVG_OPT_CLUSTER_TAU, &(double){0}) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_get_string(NULL, CVG_OPT_SEED, NULL, 0, &(int64_t){0}) == CVG_E_INVALID_ARG);

    /* ---- live-handle registry: every handle type ---- */
    const int64_t units[2] = {2, 2};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    /* a handle of another type is rejected, not reinterpreted */
    CHECK(cvg_options_set_int((cvg_options *)st, CVG_OPT_SEED, 1) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not a live cvg_options") != NULL);
    CHECK(cvg_stats_samples((const cvg_stats *)o, &(int64_t){0}) == CVG_E_INVALID_ARG);
    CHECK(strcmp(cvg_stats_backend((const cvg_stats *)o), "") == 0);
    /* destroying through the wrong type is ignored: both stay usable */
    cvg_stats_destroy((cvg_stats *)o);
    CHECK(strstr(cvg_last_error(), "not a live cvg_stats") != NULL);
    CHECK(cvg_options_set_int(o, CVG_OPT_SEED, 5) == CVG_OK);

    cvg_options_destroy(o);
    CHECK(cvg_options_set_int(o, CVG_OPT_SEED, 1) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not a live cvg_options") != NULL);
    CHECK(cvg_options_get_int(o, CVG_OPT_SEED, &(int64_t){0}) == CVG_E_INVALID_ARG);
    cvg_options_destroy(o); /* double destroy: a no-op */
    cvg_options_destroy(NULL);

    /* a destroyed options object passed to an analysis */
    float values[6] = {0, 1, 2, 3, 4, 5};
    cvg_binned *bn = NULL;
    CHECK(cvg_bin_units(&bn, values, 6, 1, 1, CVG_ROW_MAJOR, o) == CVG_E_INVALID_ARG && bn == NULL);
    CHECK(cvg_compare((const char *const[]){"a", "b"}, 2, "out", o) == CVG_E_INVALID_ARG);

    /* stats */
    cvg_stats_destroy(st);
    CHECK(cvg_stats_push(st, 0, values, 1, 2, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not a live cvg_stats") != NULL);
    CHECK(cvg_stats_finalize(st) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_nets(st, &(int32_t){0}) == CVG_E_INVALID_ARG);
    CHECK(strcmp(cvg_stats_backend(st), "") == 0);
    cvg_stats_destroy(st);

    /* binned */
    CHECK(cvg_bin_units(&bn, values, 6, 1, 1, CVG_ROW_MAJOR, NULL) == CVG_OK);
    cvg_binned_destroy(bn);
    CHECK(cvg_binned_shape(bn, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not a live cvg_binned") != NULL);
    double mi;
    CHECK(cvg_mutual_information(bn, bn, CVG_BACKEND_CPU, &mi, 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    cvg_binned_destroy(bn);

    /* sparse and clustering handles: create from a small finalised stats */
    const int64_t u3[2] = {3, 3};
    CHECK(cvg_stats_create(&st, 2, u3, CVG_BACKEND_CPU) == CVG_OK);
    float xa[40 * 3], xb[40 * 3];
    unsigned s = 7;
    for (int i = 0; i < 40 * 3; ++i) {
        s = s * 1103515245u + 12345u;
        xa[i] = (float)((s >> 16) % 1000) / 100.0f;
        s = s * 1103515245u + 12345u;
        xb[i] = xa[i] + (float)((s >> 16) % 100) / 100.0f;
    }
    CHECK(cvg_stats_push(st, 0, xa, 40, 3, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, xb, 40, 3, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    cvg_sparse *sp = NULL;
    CHECK(cvg_sparse_prediction(&sp, st, 0, 1, NULL) == CVG_OK);
    cvg_sparse_destroy(sp);
    CHECK(cvg_sparse_shape(sp, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not a live cvg_sparse") != NULL);
    cvg_sparse_destroy(sp);
    cvg_clustering *cl = NULL;
    CHECK(cvg_spectral_clustering(&cl, st, 0, 1, NULL) == CVG_OK);
    cvg_clustering_destroy(cl);
    CHECK(cvg_clustering_count(cl, &(int64_t){0}) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "not a live cvg_clustering") != NULL);
    cvg_clustering_destroy(cl);
    /* a stats handle where a clustering is expected */
    CHECK(cvg_clustering_count((const cvg_clustering *)st, &(int64_t){0}) == CVG_E_INVALID_ARG);
    cvg_stats_destroy(st);
    CHECK(cvg_sparse_prediction(&sp, st, 0, 1, NULL) == CVG_E_INVALID_ARG && sp == NULL);
    CHECK(cvg_spectral_clustering(&cl, st, 0, 1, NULL) == CVG_E_INVALID_ARG && cl == NULL);
    CHECK(cvg_mean_activation_ratio(st, &mi) == CVG_E_INVALID_ARG);

    return check_summary();
}
