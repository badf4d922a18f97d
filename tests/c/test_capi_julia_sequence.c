/* The call sequence of examples/julia/convergent_example.jl, step by step in
 * C, so the sequence the Julia example documents is tested without Julia.
 * Julia arrays are column-major: every matrix here is column-major with
 * leading dimension = rows, as Julia passes a Matrix{Float32}/Matrix{Float64}.
 * Keep the two files in sync. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlpack/dlpack.h>

#include "check.h"
#include "convergent.h"

#define N 500
#define UA 3
#define UB 4
/* Step 10/11: a conv layer stored (W, H, C, B) in Julia (Flux's order). */
#define CW 5
#define CH 4
#define CC 2

/* What DLPack.share(A) makes of a Julia array A: the dimensions reversed
 * (shape[d] = size(A, ndim - d), strides likewise), no copy; the example's
 * deleter (release_shared) drops A from its SHARED pool, counted here. */
static int shared = 0; /* tensors handed over and not yet released */
static void release_shared(DLManagedTensor *self) {
    --shared;
    free(self);
}
static DLManagedTensor *julia_share(void *data, int32_t ndim, const int64_t *julia_size, DLDataTypeCode code,
                                    uint8_t bits) {
    /* the tensor and its shape/strides in one block, freed by the deleter */
    DLManagedTensor *t = malloc(sizeof(DLManagedTensor) + 2 * sizeof(int64_t) * (size_t)ndim);
    int64_t *shape = (int64_t *)(t + 1), *strides = shape + ndim;
    int64_t stride = 1; /* Julia: column-major */
    for (int32_t d = 0; d < ndim; ++d) {
        shape[ndim - 1 - d] = julia_size[d];
        strides[ndim - 1 - d] = stride;
        stride *= julia_size[d];
    }
    t->dl_tensor.data = data;
    t->dl_tensor.device.device_type = kDLCPU;
    t->dl_tensor.device.device_id = 0;
    t->dl_tensor.ndim = ndim;
    t->dl_tensor.dtype.code = (uint8_t)code;
    t->dl_tensor.dtype.bits = bits;
    t->dl_tensor.dtype.lanes = 1;
    t->dl_tensor.shape = shape;
    t->dl_tensor.strides = strides;
    t->dl_tensor.byte_offset = 0;
    t->manager_ctx = NULL;
    t->deleter = release_shared;
    ++shared;
    return t;
}
/* A view of columns [first, first + count) of a Julia array (the last
 * dimension): view(A, :, ..., first+1:first+count) shares with the same
 * strides and a shorter last dimension. */
static DLManagedTensor *julia_share_batch(float *data, int32_t ndim, const int64_t *julia_size, int64_t first,
                                          int64_t count) {
    int64_t size[4], per_column = 1;
    for (int32_t d = 0; d < ndim; ++d) size[d] = julia_size[d];
    for (int32_t d = 0; d + 1 < ndim; ++d) per_column *= julia_size[d];
    size[ndim - 1] = count;
    return julia_share(data + first * per_column, ndim, size, kDLFloat, 32);
}

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

    /* 10. DLPack (DLPack.jl). 10a: the nets of step 4 as (units, samples)
     *     matrices Xt = permutedims(X), Yt = permutedims(Y): DLPack.share makes
     *     them (samples, units) tensors; the correlation equals step 5's. */
    static float Xt[UA * N], Yt[UB * N]; /* Julia (units, samples): Xt[u, i] at u + UA * i */
    for (int i = 0; i < N; ++i) {
        for (int u = 0; u < UA; ++u) Xt[u + UA * i] = X[u * N + i];
        for (int u = 0; u < UB; ++u) Yt[u + UB * i] = Y[u * N + i];
    }
    cvg_stats *st2 = NULL;
    CHECK(cvg_stats_create(&st2, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    const int64_t size_xt[2] = {UA, N}, size_yt[2] = {UB, N};
    CHECK(cvg_stats_push_dlpack(st2, 0, julia_share(Xt, 2, size_xt, kDLFloat, 32), CVG_CHANNELS_FIRST) == CVG_OK);
    CHECK(shared == 1); /* held until the batch is complete */
    CHECK(cvg_stats_push_dlpack(st2, 1, julia_share(Yt, 2, size_yt, kDLFloat, 32), CVG_CHANNELS_FIRST) == CVG_OK);
    CHECK(shared == 0); /* merged: both released */
    CHECK(cvg_stats_finalize(st2) == CVG_OK);
    double C2[UA * UB];
    CHECK(cvg_stats_correlation(st2, 0, 1, C2, UA, CVG_COL_MAJOR) == CVG_OK);
    double worst = 0;
    for (int k = 0; k < UA * UB; ++k) worst = fmax(worst, fabs(C2[k] - C[k]));
    CHECK(worst < 1e-6);

    /* 10b. a conv layer in Flux's (W, H, C, B) order: DLPack.share gives
     *      (B, C, H, W), CVG_CHANNELS_FIRST; every position is a sample. */
    static float A[CW * CH * CC * N], B[CW * CH * CC * N]; /* Julia A[w, h, c, b], column-major */
    for (int b = 1; b <= N; ++b)
        for (int c = 1; c <= CC; ++c)
            for (int h = 1; h <= CH; ++h)
                for (int w = 1; w <= CW; ++w) {
                    const size_t k = (size_t)((w - 1) + CW * ((h - 1) + CH * ((c - 1) + CC * (b - 1))));
                    A[k] = (float)sin(0.3 * w * c + 0.7 * h + 0.05 * b * c);
                    B[k] = A[k] + (float)(0.1 * cos(1.1 * w + 0.5 * h * c + 0.07 * b));
                }
    const int64_t size_conv[4] = {CW, CH, CC, N};
    cvg_stats *st3 = NULL;
    const int64_t conv_units[2] = {CC, CC};
    CHECK(cvg_stats_create(&st3, 2, conv_units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push_dlpack(st3, 0, julia_share(A, 4, size_conv, kDLFloat, 32), CVG_CHANNELS_FIRST) == CVG_OK);
    CHECK(cvg_stats_push_dlpack(st3, 1, julia_share(B, 4, size_conv, kDLFloat, 32), CVG_CHANNELS_FIRST) == CVG_OK);
    CHECK(cvg_stats_finalize(st3) == CVG_OK);
    int64_t samples = 0;
    CHECK(cvg_stats_samples(st3, &samples) == CVG_OK);
    CHECK(samples == (int64_t)N * CH * CW);

    /* 10c. an Int32 array is refused, the message names the dtype, and the
     *      tensor is released right away */
    static int32_t ints[UA * N];
    CHECK(cvg_stats_push_dlpack(st3, 0, julia_share(ints, 2, size_xt, kDLInt, 32), CVG_CHANNELS_FIRST) ==
          CVG_E_UNSUPPORTED);
    CHECK(strstr(cvg_last_error(), "int") != NULL);
    CHECK(shared == 0);

    /* 11. the whole pipeline (cvg_compare on batches pushed in process):
     *     layers "fc" (Xt, Yt) and "conv" (A, B), in two batches of views
     *     view(Xt, :, 1:250), view(Xt, :, 251:500), ...; images = N */
    const char *names[2] = {"x", "y"};
    cvg_options *session_opts = NULL; /* Julia: mktempdir() instead of overwriting one directory */
    CHECK(cvg_options_create(&session_opts) == CVG_OK);
    CHECK(cvg_options_set_int(session_opts, CVG_OPT_OVERWRITE, 1) == CVG_OK);
    cvg_session *ss = NULL;
    CHECK(cvg_session_create(&ss, names, 2, session_opts, N) == CVG_OK);
    for (int64_t first = 0; first < N; first += N / 2) {
        CHECK(cvg_session_push_dlpack(ss, 0, "fc", julia_share_batch(Xt, 2, size_xt, first, N / 2)) == CVG_OK);
        CHECK(cvg_session_push_dlpack(ss, 1, "fc", julia_share_batch(Yt, 2, size_yt, first, N / 2)) == CVG_OK);
        CHECK(cvg_session_push_dlpack(ss, 0, "conv", julia_share_batch(A, 4, size_conv, first, N / 2)) == CVG_OK);
        CHECK(cvg_session_push_dlpack(ss, 1, "conv", julia_share_batch(B, 4, size_conv, first, N / 2)) == CVG_OK);
        CHECK(shared == 0);
    }
    CHECK(cvg_session_finish(ss, "julia_sequence_results") == CVG_OK);
    FILE *summary = fopen("julia_sequence_results/summary.json", "r");
    CHECK(summary != NULL);
    if (summary) fclose(summary);
    cvg_session_destroy(ss);
    cvg_options_destroy(session_opts);

    /* 12. cleanup */
    cvg_sparse_destroy(sp);
    cvg_options_destroy(opts);
    cvg_stats_destroy(st3);
    cvg_stats_destroy(st2);
    cvg_stats_destroy(st);

    return check_summary();
}
