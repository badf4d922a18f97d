/* The call sequence of examples/julia/convergent_example.jl, step by step in
 * C, so the sequence the Julia example documents is tested without Julia.
 * Julia arrays are column-major: every matrix here is column-major with
 * leading dimension = rows, as Julia passes a Matrix{Float32}/Matrix{Float64}.
 * Keep the two files in sync. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define N 500
#define UA 3
#define UB 4

int main(void) {
    /* 1. version */
    printf("convergent %s\n", cvg_version());
    CHECK(cvg_version_number() == CVG_VERSION_NUMBER);

    /* 2. data, as the Julia example builds it (1-based i, u there):
     *    X[i, u] = sin(0.37 * i * u)
     *    Y[i, j] = X[i, perm[j]] + 0.1 * cos(1.3 * i * j)  for j = 1..3, perm = [3, 1, 2]
     *    Y[i, 4] = cos(0.71 * i) */
    static float X[UA * N], Y[UB * N]; /* column-major, ld = N */
    const int perm[3] = {3, 1, 2};      /* 1-based, as in Julia */
    for (int i = 1; i <= N; ++i) {
        for (int u = 1; u <= UA; ++u) X[(u - 1) * N + (i - 1)] = (float)sin(0.37 * i * u);
        for (int j = 1; j <= 3; ++j)
            Y[(j - 1) * N + (i - 1)] = X[(perm[j - 1] - 1) * N + (i - 1)] + (float)(0.1 * cos(1.3 * i * j));
        Y[3 * N + (i - 1)] = (float)cos(0.71 * i);
    }

    /* 3. accumulator for two nets */
    cvg_stats *st = NULL;
    const int64_t units[2] = {UA, UB};
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);

    /* 4. push both nets, column-major, ld = N */
    CHECK(cvg_stats_push(st, 0, X, N, N, CVG_COL_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, Y, N, N, CVG_COL_MAJOR) == CVG_OK);

    /* 5. finalise, read the between-net correlation (UA x UB, column-major) */
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    double C[UA * UB];
    CHECK(cvg_stats_correlation(st, 0, 1, C, UA, CVG_COL_MAJOR) == CVG_OK);

    /* 6. max-weight matching on it */
    int64_t column[UA];
    double value[UA], mean = 0, primal = 0, dual = 0, gap = 1;
    CHECK(cvg_max_weight_matching(C, UA, UB, UA, CVG_COL_MAJOR, CVG_BACKEND_CPU, column, value, &mean, &primal,
                                  &dual, &gap) == CVG_OK);

    /* 7. the planted matching: unit u of X is unit j of Y with perm[j] = u;
     *    Julia adds 1 to the 0-based columns */
    for (int j = 1; j <= 3; ++j) CHECK(column[perm[j - 1] - 1] + 1 == j);
    for (int u = 0; u < UA; ++u) CHECK(value[u] > 0.9);
    CHECK(fabs(gap) < 1e-9);
    printf("matching (1-based): %lld %lld %lld, mean %.4f\n", (long long)column[0] + 1, (long long)column[1] + 1,
           (long long)column[2] + 1, mean);

    /* 8. sparse prediction of X from Y with two alphas, mean loss per alpha */
    cvg_options *opts = NULL;
    CHECK(cvg_options_create(&opts) == CVG_OK);
    CHECK(cvg_options_set_string(opts, CVG_OPT_LASSO_ALPHAS, "0.1,0.01") == CVG_OK);
    cvg_sparse *sp = NULL;
    CHECK(cvg_sparse_prediction(&sp, st, 0, 1, opts) == CVG_OK);
    double mean_loss[2];
    CHECK(cvg_sparse_mean_loss(sp, mean_loss) == CVG_OK);
    CHECK(mean_loss[1] < mean_loss[0] && mean_loss[0] < 0.5);

    /* 9. an error: net 5 does not exist; the message says so */
    double out[UB];
    CHECK(cvg_stats_mean(st, 5, out) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "net = 5") != NULL);

    /* 10. cleanup */
    cvg_sparse_destroy(sp);
    cvg_options_destroy(opts);
    cvg_stats_destroy(st);

    return check_summary();
}
