/* The statistics part of the C ABI, called from C99: numbers against a naive
 * two-pass computation, layouts and leading dimensions, and every error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define N 400
#define UA 3
#define UB 4

static float net_a[N][UA];
static float net_b_colmajor[UB][N + 5]; /* column-major with ld = N + 5 */

static double naive_corr(const float *x, int sx, const float *y, int sy) {
    double mx = 0, my = 0, cxy = 0, cxx = 0, cyy = 0;
    for (int i = 0; i < N; ++i) { mx += x[i * sx]; my += y[i * sy]; }
    mx /= N; my /= N;
    for (int i = 0; i < N; ++i) {
        double dx = x[i * sx] - mx, dy = y[i * sy] - my;
        cxy += dx * dy; cxx += dx * dx; cyy += dy * dy;
    }
    return cxy / sqrt(cxx * cyy);
}

int main(void) {
    unsigned s = 12345;
    for (int i = 0; i < N; ++i) {
        double shared = 0;
        for (int k = 0; k < 12; ++k) { s = s * 1103515245u + 12345u; shared += (s >> 16) / 65536.0; }
        for (int u = 0; u < UA; ++u) { s = s * 1103515245u + 12345u; net_a[i][u] = (float)(shared * (u + 1) + (s >> 16) / 65536.0); }
        for (int u = 0; u < UB; ++u) {
            s = s * 1103515245u + 12345u;
            net_b_colmajor[u][i] = u == 3 ? 0.0f : (float)(shared - u + 2.0 * (s >> 16) / 65536.0);
        }
    }

    CHECK(strlen(cvg_version()) > 0);
    CHECK(cvg_version_number() == CVG_VERSION_NUMBER);
    CHECK((cvg_features() & ~(CVG_FEATURE_CUDA | CVG_FEATURE_MPI)) == 0);
    CHECK(cvg_last_error() != NULL);

    const int64_t units[2] = {UA, UB};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(st != NULL);
    CHECK(strcmp(cvg_stats_backend(st), "cpu") == 0);

    /* Push in two batches of different sizes; net b from a column-major buffer. */
    CHECK(cvg_stats_push(st, 0, &net_a[0][0], 150, UA, CVG_ROW_MAJOR) == CVG_OK);
    /* finalising with a half-pushed batch is an error */
    CHECK(cvg_stats_finalize(st) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "partially") != NULL);
    /* the same net twice in one batch is an error */
    CHECK(cvg_stats_push(st, 0, &net_a[0][0], 150, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    /* a different row count is an error */
    CHECK(cvg_stats_push(st, 1, &net_b_colmajor[0][0], 149, N + 5, CVG_COL_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push(st, 1, &net_b_colmajor[0][0], 150, N + 5, CVG_COL_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 0, &net_a[150][0], N - 150, UA, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, &net_b_colmajor[0][150], N - 150, N + 5, CVG_COL_MAJOR) == CVG_OK);

    /* reading before finalize is an error */
    double mean[UB];
    CHECK(cvg_stats_mean(st, 0, mean) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_finalize(st) == CVG_OK);

    int64_t samples = 0;
    CHECK(cvg_stats_samples(st, &samples) == CVG_OK && samples == N);

    double corr_ab[UA * UB];
    CHECK(cvg_stats_correlation(st, 0, 1, corr_ab, UB, CVG_ROW_MAJOR) == CVG_OK);
    for (int a = 0; a < UA; ++a)
        for (int b = 0; b < 3; ++b) {
            double ref = naive_corr(&net_a[0][a], UA, &net_b_colmajor[b][0], 1);
            CHECK(fabs(corr_ab[a * UB + b] - ref) < 1e-9);
        }
    /* dead unit b3: correlation 0, listed */
    for (int a = 0; a < UA; ++a) CHECK(corr_ab[a * UB + 3] == 0.0);
    int64_t ndead = -1, dead[UB];
    CHECK(cvg_stats_dead_units(st, 1, &ndead, NULL) == CVG_OK && ndead == 1);
    CHECK(cvg_stats_dead_units(st, 1, &ndead, dead) == CVG_OK && dead[0] == 3);
    CHECK(cvg_stats_dead_units(st, 0, &ndead, NULL) == CVG_OK && ndead == 0);

    /* column-major output with padding gives the same numbers */
    double corr_cm[(UA + 2) * UB];
    CHECK(cvg_stats_correlation(st, 0, 1, corr_cm, UA + 2, CVG_COL_MAJOR) == CVG_OK);
    for (int a = 0; a < UA; ++a)
        for (int b = 0; b < UB; ++b) CHECK(corr_cm[b * (UA + 2) + a] == corr_ab[a * UB + b]);

    double within[UA * UA];
    CHECK(cvg_stats_correlation(st, 0, 0, within, UA, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(fabs(within[0] - 1.0) < 1e-12);
    CHECK(fabs(within[1] - naive_corr(&net_a[0][0], UA, &net_a[0][1], UA)) < 1e-9);

    double sd[UA];
    CHECK(cvg_stats_std(st, 0, sd) == CVG_OK && sd[0] > 0);
    CHECK(cvg_stats_mean(st, 1, mean) == CVG_OK && mean[3] == 0.0);

    /* save / load / merge: merging a copy doubles the samples, keeps correlations */
    const char *path = "test_stats_capi.acc";
    CHECK(cvg_stats_save(st, path) == CVG_OK);
    cvg_stats *loaded = NULL;
    CHECK(cvg_stats_load(&loaded, path, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_merge(loaded, st) == CVG_OK);
    CHECK(cvg_stats_finalize(loaded) == CVG_OK);
    CHECK(cvg_stats_samples(loaded, &samples) == CVG_OK && samples == 2 * N);
    double corr2[UA * UB];
    CHECK(cvg_stats_correlation(loaded, 0, 1, corr2, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(fabs(corr2[0] - corr_ab[0]) < 1e-12);
    remove(path);
    CHECK(cvg_stats_load(&loaded, "/nonexistent/file.acc", CVG_BACKEND_CPU) == CVG_E_IO);
    CHECK(strstr(cvg_last_error(), "/nonexistent/file.acc") != NULL);
    FILE *f = fopen(path, "wb");
    fputs("garbage", f);
    fclose(f);
    cvg_stats *bad = (cvg_stats *)0x1;
    CHECK(cvg_stats_load(&bad, path, CVG_BACKEND_CPU) == CVG_E_BAD_DATA && bad == NULL);
    remove(path);

    /* error paths */
    CHECK(cvg_stats_create(NULL, 2, units, CVG_BACKEND_CPU) == CVG_E_INVALID_ARG);
    cvg_stats *x = NULL;
    CHECK(cvg_stats_create(&x, 0, units, CVG_BACKEND_CPU) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_create(&x, 2, NULL, CVG_BACKEND_CPU) == CVG_E_INVALID_ARG);
    const int64_t zero_units[2] = {3, 0};
    CHECK(cvg_stats_create(&x, 2, zero_units, CVG_BACKEND_CPU) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_create(&x, 2, units, 42) == CVG_E_INVALID_ARG);
    {
        /* CUDA without a device must fail with UNSUPPORTED (never fall back) */
        int rc = cvg_stats_create(&x, 2, units, CVG_BACKEND_CUDA);
        if (rc != CVG_OK) {
            CHECK(rc == CVG_E_UNSUPPORTED);
            CHECK(strstr(cvg_last_error(), "cuda") != NULL);
        } else {
            cvg_stats_destroy(x);
        }
    }
    CHECK(cvg_stats_push(NULL, 0, &net_a[0][0], 1, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push(st, 2, &net_a[0][0], 1, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push(st, 0, NULL, 1, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push(st, 0, &net_a[0][0], 1, UA - 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push(st, 0, &net_a[0][0], 1, UA, 7) == CVG_E_INVALID_ARG);
    float with_nan[UA] = {1.0f, NAN, 2.0f};
    CHECK(cvg_stats_push(st, 0, with_nan, 1, UA, CVG_ROW_MAJOR) == CVG_E_BAD_DATA);
    CHECK(strstr(cvg_last_error(), "non-finite") != NULL);
    float with_inf[UA] = {1.0f, 2.0f, INFINITY};
    CHECK(cvg_stats_push(st, 0, with_inf, 1, UA, CVG_ROW_MAJOR) == CVG_E_BAD_DATA);
    /* a rejected push leaves no partial batch behind */
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    CHECK(cvg_stats_correlation(st, 0, 1, corr_ab, UB - 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_correlation(st, 0, 5, corr_ab, UB, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_dead_units(st, 0, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_merge(st, st) == CVG_E_INVALID_ARG);
    cvg_stats *other = NULL;
    const int64_t other_units[2] = {UA, UB + 1};
    CHECK(cvg_stats_create(&other, 2, other_units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_merge(st, other) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_save(st, "/nonexistent-dir/x.acc") == CVG_E_IO);
    /* a successful call clears the error message */
    CHECK(cvg_stats_samples(st, &samples) == CVG_OK && cvg_last_error()[0] == '\0');

    cvg_stats_destroy(other);
    cvg_stats_destroy(loaded);
    cvg_stats_destroy(st);
    cvg_stats_destroy(NULL);

    return check_summary();
}
