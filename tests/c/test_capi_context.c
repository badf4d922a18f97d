/* Backend contexts (cvg_context) through the C ABI: create / query / destroy,
 * every error path (NULL, unknown backend, use after destroy, wrong handle
 * type, CUDA without a backend or device), results of every *_ctx call equal
 * to those of its call with a backend id, a context shared by several
 * threads, a stats handle outliving its context; and the capacity-checked
 * statistics getters (cvg_stats_mean_n / _std_n / _dead_units_n), which must
 * refuse a too-small buffer without writing into it. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define N 120 /* samples */
#define U 6   /* units per net */
#define SENTINEL -12345.0

static float xa[N][U], xb[N][U];
static unsigned rng = 7;
static double uniform(void) {
    rng = rng * 1103515245u + 12345u;
    return ((rng >> 8) & 0xFFFF) / 65536.0;
}

/* Two nets with planted groups {0,1,2} and {3,4,5}; unit 5 of net b is
 * constant (dead). */
static void make_data(void) {
    for (int i = 0; i < N; ++i) {
        double f0 = uniform(), f1 = uniform();
        for (int u = 0; u < U; ++u) {
            double f = u < 3 ? f0 : f1;
            xa[i][u] = (float)(f + 0.3 * uniform() + 0.1 * u);
            xb[i][u] = u == U - 1 ? 0.5f : (float)(2.0 * f + 0.6 * uniform() - 0.05 * u);
        }
    }
}

static cvg_stats *finalized_stats(const cvg_context *ctx) {
    const int64_t units[2] = {U, U};
    cvg_stats *st = NULL;
    if (ctx) CHECK(cvg_stats_create_ctx(&st, ctx, 2, units) == CVG_OK);
    else CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push(st, 0, &xa[0][0], N, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, &xb[0][0], N, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    return st;
}

static void check_library(void) {
    CHECK(cvg_version() != NULL && strcmp(cvg_version(), "") != 0);
    CHECK(cvg_version_number() == CVG_VERSION_NUMBER);
    const int32_t features = cvg_features();
    CHECK((features & ~(CVG_FEATURE_CUDA | CVG_FEATURE_MPI)) == 0);
    /* a usable device implies the CUDA backend is compiled in */
    if (cvg_cuda_device_available()) CHECK((features & CVG_FEATURE_CUDA) != 0);
}

static void check_create_errors(void) {
    cvg_context *ctx = (cvg_context *)0x1;
    CHECK(cvg_context_create(NULL, CVG_BACKEND_CPU) == CVG_E_INVALID_ARG);
    CHECK(cvg_context_create(&ctx, 7) == CVG_E_INVALID_ARG && ctx == NULL);
    CHECK(strstr(cvg_last_error(), "unknown backend") != NULL);
    CHECK(cvg_context_create(&ctx, -1) == CVG_E_INVALID_ARG && ctx == NULL);

    /* CUDA: served only with a backend and a device, never a silent CPU context */
    ctx = (cvg_context *)0x1;
    const int rc = cvg_context_create(&ctx, CVG_BACKEND_CUDA);
    if (cvg_cuda_device_available()) {
        int32_t kind = -1;
        CHECK(rc == CVG_OK && ctx != NULL);
        CHECK(cvg_context_backend(ctx, &kind) == CVG_OK && kind == CVG_BACKEND_CUDA);
        cvg_context_destroy(ctx);
    } else {
        CHECK(rc == CVG_E_UNSUPPORTED && ctx == NULL);
        if (cvg_features() & CVG_FEATURE_CUDA)
            CHECK(strstr(cvg_last_error(), "no CUDA backend") == NULL);
        else
            CHECK(strstr(cvg_last_error(), "no CUDA backend") != NULL);
        /* the calls with a backend id report the same */
        cvg_stats *st = (cvg_stats *)0x1;
        const int64_t units[1] = {2};
        CHECK(cvg_stats_create(&st, 1, units, CVG_BACKEND_CUDA) == CVG_E_UNSUPPORTED && st == NULL);
    }

    /* AUTO resolves to CUDA exactly when a device is usable */
    int32_t kind = -1;
    CHECK(cvg_context_create(&ctx, CVG_BACKEND_AUTO) == CVG_OK && ctx != NULL);
    CHECK(cvg_context_backend(ctx, &kind) == CVG_OK);
    CHECK(kind == (cvg_cuda_device_available() ? CVG_BACKEND_CUDA : CVG_BACKEND_CPU));
    cvg_context_destroy(ctx);
}

static void check_queries(cvg_context *cpu) {
    int32_t kind = -1;
    CHECK(cvg_context_backend(cpu, &kind) == CVG_OK && kind == CVG_BACKEND_CPU);
    CHECK(cvg_context_backend(cpu, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_context_backend(NULL, &kind) == CVG_E_INVALID_ARG);

    int64_t length = -1;
    char buf[256];
    CHECK(cvg_context_description(cpu, NULL, 0, &length) == CVG_OK && length > 3 && length < 255);
    CHECK(cvg_context_description(cpu, buf, 0, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_context_description(NULL, NULL, 0, &length) == CVG_E_INVALID_ARG);
    /* too small for the terminating NUL: refused, buffer untouched */
    memset(buf, 'x', sizeof buf);
    CHECK(cvg_context_description(cpu, buf, length, &length) == CVG_E_INVALID_ARG);
    CHECK(buf[0] == 'x' && buf[length - 1] == 'x' && buf[length] == 'x');
    CHECK(cvg_context_description(cpu, buf, length + 1, &length) == CVG_OK);
    CHECK((int64_t)strlen(buf) == length && strncmp(buf, "cpu", 3) == 0 && buf[length + 1] == 'x');
}

static void check_same_results(cvg_context *cpu) {
    cvg_stats *st_old = finalized_stats(NULL);
    cvg_stats *st_ctx = finalized_stats(cpu);
    CHECK(strcmp(cvg_stats_backend(st_ctx), "cpu") == 0);

    double corr_old[U * U], corr_ctx[U * U];
    CHECK(cvg_stats_correlation(st_old, 0, 1, corr_old, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_correlation(st_ctx, 0, 1, corr_ctx, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(memcmp(corr_old, corr_ctx, sizeof corr_old) == 0);

    /* matching and alignment */
    int64_t col_old[U], col_ctx[U];
    double val_old[U], val_ctx[U], m_old, m_ctx, p_old, p_ctx, d_old, d_ctx, g_old, g_ctx;
    CHECK(cvg_max_weight_matching(corr_old, U, U, U, CVG_ROW_MAJOR, CVG_BACKEND_CPU, col_old, val_old, &m_old,
                                  &p_old, &d_old, &g_old) == CVG_OK);
    CHECK(cvg_max_weight_matching_ctx(cpu, corr_old, U, U, U, CVG_ROW_MAJOR, col_ctx, val_ctx, &m_ctx, &p_ctx,
                                      &d_ctx, &g_ctx) == CVG_OK);
    CHECK(memcmp(col_old, col_ctx, sizeof col_old) == 0 && memcmp(val_old, val_ctx, sizeof val_old) == 0);
    CHECK(m_old == m_ctx && p_old == p_ctx && d_old == d_ctx && g_old == g_ctx);
    /* the planted structure: units of a group match within the group */
    for (int i = 0; i < U - 1; ++i) CHECK((col_ctx[i] < 3) == (i < 3));

    int64_t semi_o[U], match_o[U], fig3_o[U], order_o[U], semi_c[U], match_c[U], fig3_c[U], order_c[U];
    double ov_o = -1, ov_c = -2;
    CHECK(cvg_align(corr_old, U, U, U, CVG_ROW_MAJOR, CVG_BACKEND_CPU, semi_o, match_o, &ov_o, fig3_o,
                    order_o) == CVG_OK);
    CHECK(cvg_align_ctx(cpu, corr_old, U, U, U, CVG_ROW_MAJOR, semi_c, match_c, &ov_c, fig3_c, order_c) ==
          CVG_OK);
    CHECK(ov_o == ov_c && ov_c >= 0 && ov_c <= 1);
    CHECK(memcmp(semi_o, semi_c, sizeof semi_o) == 0 && memcmp(match_o, match_c, sizeof match_o) == 0);
    CHECK(memcmp(fig3_o, fig3_c, sizeof fig3_o) == 0 && memcmp(order_o, order_c, sizeof order_o) == 0);

    /* mutual information */
    cvg_binned *ba = NULL, *bb = NULL;
    CHECK(cvg_bin_units(&ba, &xa[0][0], N, U, U, CVG_ROW_MAJOR, NULL) == CVG_OK);
    CHECK(cvg_bin_units(&bb, &xb[0][0], N, U, U, CVG_ROW_MAJOR, NULL) == CVG_OK);
    double mi_old[U * U], mi_ctx[U * U];
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_CPU, mi_old, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_mutual_information_ctx(cpu, ba, bb, mi_ctx, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(memcmp(mi_old, mi_ctx, sizeof mi_old) == 0);
    CHECK(mi_ctx[0] > 0.1 && mi_ctx[U - 1] == 0.0); /* a dead unit shares no information */
    CHECK(cvg_mutual_information_ctx(NULL, ba, bb, mi_ctx, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information_ctx(cpu, ba, NULL, mi_ctx, U, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    cvg_binned_destroy(ba);
    cvg_binned_destroy(bb);

    /* spectral clustering: eigensolve on the context */
    cvg_clustering *c_old = NULL, *c_ctx = NULL;
    CHECK(cvg_spectral_clustering(&c_old, st_old, 0, 1, NULL) == CVG_OK);
    CHECK(cvg_spectral_clustering_ctx(&c_ctx, cpu, st_old, 0, 1, NULL) == CVG_OK);
    double eig_o[64], eig_c[64];
    int64_t n_o = 0, n_c = 0, perm_o[2 * U], perm_c[2 * U];
    CHECK(cvg_clustering_eigenvalues(c_old, &n_o, eig_o, 64) == CVG_OK);
    CHECK(cvg_clustering_eigenvalues(c_ctx, &n_c, eig_c, 64) == CVG_OK);
    CHECK(n_o == n_c && n_c > 1 && memcmp(eig_o, eig_c, sizeof(double) * (size_t)n_c) == 0);
    CHECK(cvg_clustering_permutation(c_old, &n_o, perm_o, 2 * U) == CVG_OK);
    CHECK(cvg_clustering_permutation(c_ctx, &n_c, perm_c, 2 * U) == CVG_OK);
    CHECK(n_o == 2 * U && n_c == n_o && memcmp(perm_o, perm_c, sizeof perm_o) == 0);
    cvg_clustering_destroy(c_old);
    cvg_clustering_destroy(c_ctx);
    cvg_clustering *c_bad = (cvg_clustering *)0x1;
    CHECK(cvg_spectral_clustering_ctx(&c_bad, NULL, st_old, 0, 1, NULL) == CVG_E_INVALID_ARG && c_bad == NULL);

    /* save with one handle, load on the context */
    const char *path = "test_capi_context_stats.bin";
    cvg_stats *loaded = (cvg_stats *)0x1;
    CHECK(cvg_stats_save(st_old, path) == CVG_OK);
    CHECK(cvg_stats_load_ctx(&loaded, NULL, path) == CVG_E_INVALID_ARG && loaded == NULL);
    CHECK(cvg_stats_load_ctx(&loaded, cpu, NULL) == CVG_E_INVALID_ARG && loaded == NULL);
    CHECK(cvg_stats_load_ctx(&loaded, cpu, "no/such/file.bin") == CVG_E_IO && loaded == NULL);
    CHECK(cvg_stats_load_ctx(&loaded, cpu, path) == CVG_OK && loaded != NULL);
    CHECK(cvg_stats_finalize(loaded) == CVG_OK);
    double mean_old[U], mean_loaded[U];
    CHECK(cvg_stats_mean_n(st_old, 1, mean_old, U) == CVG_OK);
    CHECK(cvg_stats_mean_n(loaded, 1, mean_loaded, U) == CVG_OK);
    CHECK(memcmp(mean_old, mean_loaded, sizeof mean_old) == 0);
    cvg_stats_destroy(loaded);
    remove(path);

    cvg_stats_destroy(st_old);
    cvg_stats_destroy(st_ctx);
}

/* ---- one context shared by several threads ---- */
#define THREADS 4
#define ROUNDS 25
struct job {
    const cvg_context *ctx;
    const double *similarity;
    const int64_t *expected;
    int mismatches;
};

static void *run_job(void *arg) {
    struct job *j = (struct job *)arg;
    for (int r = 0; r < ROUNDS; ++r) {
        int64_t column[U];
        if (cvg_max_weight_matching_ctx(j->ctx, j->similarity, U, U, U, CVG_ROW_MAJOR, column, NULL, NULL, NULL,
                                        NULL, NULL) != CVG_OK ||
            memcmp(column, j->expected, sizeof column) != 0)
            ++j->mismatches;
    }
    return NULL;
}

static void check_threads(cvg_context *cpu) {
    double w[U * U];
    for (int i = 0; i < U * U; ++i) w[i] = uniform();
    int64_t expected[U];
    CHECK(cvg_max_weight_matching_ctx(cpu, w, U, U, U, CVG_ROW_MAJOR, expected, NULL, NULL, NULL, NULL, NULL) ==
          CVG_OK);
    pthread_t threads[THREADS];
    struct job jobs[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        jobs[t].ctx = cpu;
        jobs[t].similarity = w;
        jobs[t].expected = expected;
        jobs[t].mismatches = 0;
        CHECK(pthread_create(&threads[t], NULL, run_job, &jobs[t]) == 0);
    }
    for (int t = 0; t < THREADS; ++t) {
        CHECK(pthread_join(threads[t], NULL) == 0);
        CHECK(jobs[t].mismatches == 0);
    }
}

/* ---- lifetime: destroy, stale handles, a stats handle outliving its context ---- */
static void check_lifetime(void) {
    cvg_context *ctx = NULL;
    CHECK(cvg_context_create(&ctx, CVG_BACKEND_CPU) == CVG_OK);
    const int64_t units[2] = {U, U};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create_ctx(&st, ctx, 2, units) == CVG_OK);
    cvg_stats *bad = (cvg_stats *)0x1;
    CHECK(cvg_stats_create_ctx(&bad, NULL, 2, units) == CVG_E_INVALID_ARG && bad == NULL);
    CHECK(cvg_stats_create_ctx(&bad, ctx, 0, units) == CVG_E_INVALID_ARG && bad == NULL);
    CHECK(cvg_stats_create_ctx(NULL, ctx, 2, units) == CVG_E_INVALID_ARG);

    cvg_context_destroy(ctx);
    int32_t kind = -1;
    CHECK(cvg_context_backend(ctx, &kind) == CVG_E_INVALID_ARG && kind == -1);
    CHECK(strstr(cvg_last_error(), "not a live cvg_context") != NULL);
    double w[4] = {1, 0, 0, 1};
    int64_t column[2];
    CHECK(cvg_max_weight_matching_ctx(ctx, w, 2, 2, 2, CVG_ROW_MAJOR, column, NULL, NULL, NULL, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_align_ctx(ctx, w, 2, 2, 2, CVG_ROW_MAJOR, NULL, column, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_create_ctx(&bad, ctx, 2, units) == CVG_E_INVALID_ARG && bad == NULL);
    cvg_context_destroy(ctx); /* a second destroy is a no-op */
    cvg_context_destroy(NULL);

    /* the accumulator keeps its backend */
    CHECK(cvg_stats_push(st, 0, &xa[0][0], N, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, &xb[0][0], N, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    CHECK(strcmp(cvg_stats_backend(st), "cpu") == 0);

    /* another handle type is not a context */
    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    CHECK(cvg_context_backend((const cvg_context *)o, &kind) == CVG_E_INVALID_ARG);
    CHECK(cvg_max_weight_matching_ctx((const cvg_context *)st, w, 2, 2, 2, CVG_ROW_MAJOR, column, NULL, NULL,
                                      NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    cvg_context_destroy((cvg_context *)o); /* ignored: not a context */
    int64_t key_value = 0;
    CHECK(cvg_options_get_int(o, CVG_OPT_SEED, &key_value) == CVG_OK); /* o is still live */
    cvg_options_destroy(o);
    cvg_stats_destroy(st);
}

/* ---- capacity-checked getters ---- */
static void check_capacity_getters(void) {
    cvg_stats *st = finalized_stats(NULL);
    double out[U + 2], old[U];
    for (int i = 0; i < U + 2; ++i) out[i] = SENTINEL;

    /* too small: refused, nothing written */
    CHECK(cvg_stats_mean_n(st, 0, out, U - 1) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "capacity") != NULL);
    CHECK(cvg_stats_std_n(st, 0, out, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_std_n(st, 0, out, -1) == CVG_E_INVALID_ARG);
    for (int i = 0; i < U + 2; ++i) CHECK(out[i] == SENTINEL);

    /* large enough: exactly units values, the rest untouched, equal to the old getters */
    CHECK(cvg_stats_mean_n(st, 0, out, U + 2) == CVG_OK);
    CHECK(cvg_stats_mean(st, 0, old) == CVG_OK);
    CHECK(memcmp(out, old, sizeof old) == 0 && out[U] == SENTINEL && out[U + 1] == SENTINEL);
    CHECK(cvg_stats_std_n(st, 1, out, U) == CVG_OK);
    CHECK(cvg_stats_std(st, 1, old) == CVG_OK);
    CHECK(memcmp(out, old, sizeof old) == 0 && out[U - 1] == 0.0 && out[0] > 0.0);
    CHECK(cvg_stats_mean_n(st, 2, out, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_mean_n(st, 0, NULL, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_mean_n(NULL, 0, out, U) == CVG_E_INVALID_ARG);

    /* dead units: size query + fill */
    int64_t count = -1, dead[3] = {-7, -7, -7};
    CHECK(cvg_stats_dead_units_n(st, 1, &count, NULL, 0) == CVG_OK && count == 1);
    CHECK(cvg_stats_dead_units_n(st, 1, &count, dead, 0) == CVG_E_INVALID_ARG && dead[0] == -7);
    CHECK(cvg_stats_dead_units_n(st, 1, &count, dead, 1) == CVG_OK && count == 1 && dead[0] == U - 1 &&
          dead[1] == -7);
    CHECK(cvg_stats_dead_units_n(st, 0, &count, dead, 3) == CVG_OK && count == 0);
    CHECK(cvg_stats_dead_units_n(st, 1, NULL, dead, 3) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_dead_units_n(st, -1, &count, dead, 3) == CVG_E_INVALID_ARG);

    /* not finalised after another push: refused as the old getters are */
    const int64_t units[1] = {U};
    cvg_stats *fresh = NULL;
    CHECK(cvg_stats_create(&fresh, 1, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_mean_n(fresh, 0, out, U) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_dead_units_n(fresh, 0, &count, NULL, 0) == CVG_E_INVALID_ARG);
    cvg_stats_destroy(fresh);
    cvg_stats_destroy(st);
}

int main(void) {
    make_data();
    check_library();
    check_create_errors();
    cvg_context *cpu = NULL;
    CHECK(cvg_context_create(&cpu, CVG_BACKEND_CPU) == CVG_OK && cpu != NULL);
    check_queries(cpu);
    check_same_results(cpu);
    check_threads(cpu);
    cvg_context_destroy(cpu);
    check_lifetime();
    check_capacity_getters();
    return check_summary();
}
