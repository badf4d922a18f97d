/* Zero-copy input through DLPack (cvg_stats_push_dlpack) and the pipeline fed
 * batch by batch (cvg_session_*): results equal those of cvg_stats_push and of
 * cvg_compare on files holding the same data; strided, non-contiguous,
 * float16/float64 and 4-D tensors; deleters called exactly once on every path;
 * tensors read in place (no copy: the data is read when the batch completes,
 * and the peak memory does not grow by a copy of the tensors); wrong dtype and
 * wrong device are clear errors. */
#define _POSIX_C_SOURCE 200809L
#include <dlpack/dlpack.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "check.h"
#include "npy_io.h"
#include "convergent.h"

#define WORK "test_capi_dlpack.work"

/* ---- managed tensors with a deleter counter -------------------------------- */
static int deleted = 0;
typedef struct {
    DLManagedTensor managed;
    int64_t shape[4];
    int64_t strides[4];
} Tensor;
static void count_delete(DLManagedTensor *self) {
    ++deleted;
    free(self->manager_ctx);
}
/* A managed tensor over `data` (not owned); strides NULL = C-contiguous. */
static DLManagedTensor *wrap(void *data, uint8_t code, uint8_t bits, int ndim, const int64_t *shape,
                             const int64_t *strides, int device_type) {
    Tensor *t = (Tensor *)calloc(1, sizeof(Tensor));
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    if (strides) memcpy(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
    t->managed.dl_tensor.data = data;
    t->managed.dl_tensor.device.device_type = (DLDeviceType)device_type;
    t->managed.dl_tensor.device.device_id = 0;
    t->managed.dl_tensor.ndim = ndim;
    t->managed.dl_tensor.dtype.code = code;
    t->managed.dl_tensor.dtype.bits = bits;
    t->managed.dl_tensor.dtype.lanes = 1;
    t->managed.dl_tensor.shape = t->shape;
    t->managed.dl_tensor.strides = strides ? t->strides : NULL;
    t->managed.dl_tensor.byte_offset = 0;
    t->managed.manager_ctx = t; /* freed by the deleter */
    t->managed.deleter = count_delete;
    return &t->managed;
}

static unsigned rng = 12345u;
static double uniform(void) {
    rng = rng * 1103515245u + 12345u;
    return ((rng >> 8) & 0xFFFF) / 65536.0;
}

/* IEEE binary16 of a float that is exactly representable (test values are). */
static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int exp = (int)((x >> 23) & 0xFF) - 127 + 15;
    uint32_t mant = x & 0x7FFFFFu;
    if (f == 0.0f) return (uint16_t)sign;
    return (uint16_t)(sign | ((uint32_t)exp << 10) | (mant >> 13));
}

static double max_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; ++i) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static long peak_rss_kib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

#define N 240
#define UA 5
#define UB 3

/* cvg_stats: DLPack pushes of every layout equal cvg_stats_push of the rows. */
static void test_stats_layouts(void) {
    static float a[N][UA], b[N][UB];
    for (int i = 0; i < N; ++i) {
        double shared = uniform();
        for (int u = 0; u < UA; ++u) a[i][u] = (float)(int)(64 * (shared * (u + 1) + uniform())) / 64.0f;
        for (int u = 0; u < UB; ++u) b[i][u] = (float)(int)(64 * (shared * (UB - u) + uniform())) / 64.0f;
    }
    const int64_t units[2] = {UA, UB};
    cvg_stats *ref = NULL;
    CHECK(cvg_stats_create(&ref, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push(ref, 0, &a[0][0], N, UA, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(ref, 1, &b[0][0], N, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_finalize(ref) == CVG_OK);
    double want[UA * UB], got[UA * UB], want_mean[UA], got_mean[UA];
    CHECK(cvg_stats_correlation(ref, 0, 1, want, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_mean(ref, 0, want_mean) == CVG_OK);

    /* net 0: float64, column-major (transposed strides); net 1: float16 with
     * every other element (row stride 2 * UB... i.e. a [:, ::2] slice). */
    static double a64_colmajor[UA * N];
    static uint16_t b16_wide[N * UB * 2];
    for (int i = 0; i < N; ++i) {
        for (int u = 0; u < UA; ++u) a64_colmajor[u * N + i] = a[i][u];
        for (int u = 0; u < UB; ++u) {
            b16_wide[i * UB * 2 + u * 2] = to_half(b[i][u]);
            b16_wide[i * UB * 2 + u * 2 + 1] = 0x7E00; /* NaN in the gaps: must never be read */
        }
    }
    const int64_t shape_a[2] = {N, UA}, strides_a[2] = {1, N};
    const int64_t shape_b[2] = {N, UB}, strides_b[2] = {UB * 2, 2};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    deleted = 0;
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a64_colmajor, kDLFloat, 64, 2, shape_a, strides_a, kDLCPU),
                                CVG_CHANNELS_FIRST) == CVG_OK);
    CHECK(deleted == 0); /* kept until the batch completes */
    CHECK(cvg_stats_push_dlpack(st, 1, wrap(b16_wide, kDLFloat, 16, 2, shape_b, strides_b, kDLCPU),
                                CVG_CHANNELS_FIRST) == CVG_OK);
    CHECK(deleted == 2);
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    CHECK(cvg_stats_correlation(st, 0, 1, got, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_mean(st, 0, got_mean) == CVG_OK);
    CHECK(max_diff(want, got, UA * UB) < 1e-12);
    CHECK(max_diff(want_mean, got_mean, UA) < 1e-12);
    cvg_stats_destroy(st);

    /* 4-D: net 0 as (N/4, UA, 2, 2) NCHW, net 1 as (N/4, 2, 2, UB) NHWC of the
     * same rows (sample = image * 4 + y * 2 + x). Channels-last applies per push. */
    static float a4[N / 4][UA][2][2], b4[N / 4][2][2][UB];
    for (int i = 0; i < N; ++i)
        for (int u = 0; u < UA; ++u) a4[i / 4][u][(i % 4) / 2][i % 2] = a[i][u];
    for (int i = 0; i < N; ++i)
        for (int u = 0; u < UB; ++u) b4[i / 4][(i % 4) / 2][i % 2][u] = b[i][u];
    const int64_t shape_a4[4] = {N / 4, UA, 2, 2}, shape_b4[4] = {N / 4, 2, 2, UB};
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    /* a mixed batch: net 1 through cvg_stats_push, net 0 through DLPack */
    CHECK(cvg_stats_push(st, 1, &b[0][0], N / 2, UB, CVG_ROW_MAJOR) == CVG_OK);
    const int64_t shape_half[4] = {N / 8, UA, 2, 2};
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a4, kDLFloat, 32, 4, shape_half, NULL, kDLCPU), CVG_CHANNELS_FIRST) ==
          CVG_OK);
    /* second half: both DLPack, NCHW and NHWC */
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a4[N / 8], kDLFloat, 32, 4, shape_half, NULL, kDLCPU),
                                CVG_CHANNELS_FIRST) == CVG_OK);
    const int64_t shape_b_half[4] = {N / 8, 2, 2, UB};
    CHECK(cvg_stats_push_dlpack(st, 1, wrap(b4[N / 8], kDLFloat, 32, 4, shape_b_half, NULL, kDLCPU),
                                CVG_CHANNELS_LAST) == CVG_OK);
    (void)shape_a4;
    (void)shape_b4;
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    int64_t samples = 0;
    CHECK(cvg_stats_samples(st, &samples) == CVG_OK && samples == N);
    CHECK(cvg_stats_correlation(st, 0, 1, got, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(max_diff(want, got, UA * UB) < 1e-12);

    /* errors: the deleter runs on every rejected push too */
    deleted = 0;
    static int32_t ints[N * UA];
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(ints, kDLInt, 32, 2, shape_a, NULL, kDLCPU), 0) == CVG_E_UNSUPPORTED);
    CHECK(strstr(cvg_last_error(), "int32") != NULL);
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a64_colmajor, kDLFloat, 64, 2, shape_a, strides_a, kDLCUDA), 0) ==
          CVG_E_UNSUPPORTED);
    CHECK(strstr(cvg_last_error(), "CUDA") != NULL);
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a64_colmajor, kDLFloat, 64, 2, shape_a, strides_a, kDLOpenCL), 0) ==
          CVG_E_UNSUPPORTED);
    CHECK(strstr(cvg_last_error(), "opencl") != NULL);
    CHECK(cvg_stats_push_dlpack(st, 1, wrap(a64_colmajor, kDLFloat, 64, 2, shape_a, strides_a, kDLCPU), 0) ==
          CVG_E_INVALID_ARG); /* 5 units for a net of 3 */
    const int64_t shape3[3] = {N, UA, 1};
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a64_colmajor, kDLFloat, 64, 3, shape3, NULL, kDLCPU), 0) ==
          CVG_E_INVALID_ARG);
    static float with_nan[N][UA];
    memcpy(with_nan, a, sizeof with_nan);
    with_nan[N - 3][2] = NAN;
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(with_nan, kDLFloat, 32, 2, shape_a, NULL, kDLCPU), 0) == CVG_E_BAD_DATA);
    CHECK(cvg_stats_push_dlpack(NULL, 0, wrap(with_nan, kDLFloat, 32, 2, shape_a, NULL, kDLCPU), 0) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_stats_push_dlpack(st, 0, NULL, 0) == CVG_E_INVALID_ARG);
    CHECK(deleted == 7);
    /* the rejected pushes left the accumulator as it was */
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    CHECK(cvg_stats_samples(st, &samples) == CVG_OK && samples == N);
    /* a pending batch's tensor is released by destroy */
    deleted = 0;
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(a, kDLFloat, 32, 2, shape_a, NULL, kDLCPU), 0) == CVG_OK);
    CHECK(deleted == 0);
    cvg_stats_destroy(st);
    CHECK(deleted == 1);
    cvg_stats_destroy(ref);
}

/* In place: a tensor is read when its batch completes, not copied at push;
 * and merging two 64 MiB tensors does not raise the peak memory by a copy. */
static void test_zero_copy(void) {
    const int64_t units[2] = {2, 2};
    static float x[4][2], y[4][2];
    for (int i = 0; i < 4; ++i) {
        x[i][0] = (float)i, x[i][1] = (float)(i * i);
        y[i][0] = (float)(3 - i), y[i][1] = (float)(i % 2);
    }
    const int64_t shape[2] = {4, 2};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(x, kDLFloat, 32, 2, shape, NULL, kDLCPU), 0) == CVG_OK);
    x[0][0] = 100.0f; /* changed after the push, before the batch completes */
    CHECK(cvg_stats_push_dlpack(st, 1, wrap(y, kDLFloat, 32, 2, shape, NULL, kDLCPU), 0) == CVG_OK);
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    double mean[2];
    CHECK(cvg_stats_mean(st, 0, mean) == CVG_OK);
    CHECK(fabs(mean[0] - (100.0 + 1 + 2 + 3) / 4) < 1e-12); /* the value at merge time was read */
    cvg_stats_destroy(st);

    /* 2 nets x 2^21 rows x 8 units of float32 = 64 MiB each, touched first. */
    const int64_t rows = (int64_t)1 << 21, w = 8;
    float *big_a = (float *)malloc(sizeof(float) * (size_t)(rows * w));
    float *big_b = (float *)malloc(sizeof(float) * (size_t)(rows * w));
    CHECK(big_a && big_b);
    if (!big_a || !big_b) return;
    for (int64_t i = 0; i < rows * w; ++i) {
        big_a[i] = (float)((i * 7919) % 1000) / 1000.0f;
        big_b[i] = (float)((i * 104729) % 997) / 997.0f;
    }
    const int64_t big_units[2] = {w, w};
    CHECK(cvg_stats_create(&st, 2, big_units, CVG_BACKEND_CPU) == CVG_OK);
    const long before = peak_rss_kib();
    const int64_t big_shape[2] = {rows, w};
    CHECK(cvg_stats_push_dlpack(st, 0, wrap(big_a, kDLFloat, 32, 2, big_shape, NULL, kDLCPU), 0) == CVG_OK);
    CHECK(cvg_stats_push_dlpack(st, 1, wrap(big_b, kDLFloat, 32, 2, big_shape, NULL, kDLCPU), 0) == CVG_OK);
    const long grown = peak_rss_kib() - before;
    printf("peak RSS grew by %ld KiB while merging 2 x %lld KiB of tensors\n", grown,
           (long long)(rows * w * 4 / 1024));
    CHECK(grown < 16 * 1024); /* a copy of either tensor would be 64 MiB */
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    int64_t samples = 0;
    CHECK(cvg_stats_samples(st, &samples) == CVG_OK && samples == rows);
    cvg_stats_destroy(st);
    free(big_a);
    free(big_b);
}

/* The session equals cvg_compare on files of the same data. */
#define IMG 48
#define CA 4
#define CB 3
#define HW 3
static void test_session(void) {
    static float conv_a[IMG][CA][HW][HW], conv_b[IMG][CB][HW][HW], fc_a[IMG][6], fc_b[IMG][5];
    for (int i = 0; i < IMG; ++i) {
        for (int y = 0; y < HW; ++y)
            for (int x = 0; x < HW; ++x) {
                double shared = uniform();
                for (int c = 0; c < CA; ++c) conv_a[i][c][y][x] = (float)(shared * (c + 1) + 0.3 * uniform());
                for (int c = 0; c < CB; ++c) conv_b[i][c][y][x] = (float)(shared * (CB - c) + 0.3 * uniform());
            }
        double s = uniform();
        for (int u = 0; u < 6; ++u) fc_a[i][u] = (float)fmax(0.0, s * (u - 2) + 0.5 * uniform());
        for (int u = 0; u < 5; ++u) fc_b[i][u] = (float)fmax(0.0, s * (3 - u) + 0.5 * uniform());
    }
    if (system("rm -rf " WORK) != 0) return;
    mkdir(WORK, 0755);
    mkdir(WORK "/a", 0755);
    mkdir(WORK "/b", 0755);
    const int64_t sa[4] = {IMG, CA, HW, HW}, sb[4] = {IMG, CB, HW, HW}, fa[2] = {IMG, 6}, fb[2] = {IMG, 5};
    CHECK(write_npy(WORK "/a/conv.npy", &conv_a[0][0][0][0], 4, sa) == 0);
    CHECK(write_npy(WORK "/b/conv.npy", &conv_b[0][0][0][0], 4, sb) == 0);
    CHECK(write_npy(WORK "/a/fc.npy", &fc_a[0][0], 2, fa) == 0);
    CHECK(write_npy(WORK "/b/fc.npy", &fc_b[0][0], 2, fb) == 0);

    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_BACKEND, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_SAMPLES, 100) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_BINS, 6) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_SPARSE_PREDICTION, 0) == CVG_OK);
    const char *inputs[2] = {WORK "/a", WORK "/b"};
    CHECK(cvg_compare(inputs, 2, WORK "/files", o) == CVG_OK);

    const char *names[2] = {"a", "b"};
    cvg_session *s = NULL;
    CHECK(cvg_session_create(&s, names, 2, o, IMG) == CVG_OK);
    deleted = 0;
    /* batches of 16 inputs; fc of net b as float64 column-major */
    static double fc_b64[5][IMG];
    for (int i = 0; i < IMG; ++i)
        for (int u = 0; u < 5; ++u) fc_b64[u][i] = fc_b[i][u];
    for (int first = 0; first < IMG; first += 16) {
        const int64_t ca[4] = {16, CA, HW, HW}, cb[4] = {16, CB, HW, HW}, f6[2] = {16, 6}, f5[2] = {16, 5};
        const int64_t f5_strides[2] = {1, IMG};
        CHECK(cvg_session_push_dlpack(s, 0, "conv", wrap(conv_a[first], kDLFloat, 32, 4, ca, NULL, kDLCPU)) == CVG_OK);
        CHECK(cvg_session_push_dlpack(s, 0, "fc", wrap(fc_a[first], kDLFloat, 32, 2, f6, NULL, kDLCPU)) == CVG_OK);
        CHECK(cvg_session_push(s, 1, "conv", &conv_b[first][0][0][0], 4, cb) == CVG_OK);
        CHECK(cvg_session_push_dlpack(s, 1, "fc", wrap(&fc_b64[0][first], kDLFloat, 64, 2, f5, f5_strides, kDLCPU)) ==
              CVG_OK);
    }
    CHECK(deleted == 9);
    CHECK(cvg_session_finish(s, WORK "/session") == CVG_OK);
    CHECK(cvg_session_push(s, 0, "fc", &fc_a[0][0], 2, fa) == CVG_E_INVALID_ARG); /* after finish */
    cvg_session_destroy(s);

    /* correlation to rounding, MI exactly (same sample rows, same values) */
    static float x[CA * CB], y[CA * CB], mx[36], my[36];
    CHECK(read_npy(WORK "/files/conv/a~b.corr.npy", x, CA * CB) == 0);
    CHECK(read_npy(WORK "/session/conv/a~b.corr.npy", y, CA * CB) == 0);
    for (int i = 0; i < CA * CB; ++i) CHECK(fabsf(x[i] - y[i]) < 1e-6f);
    CHECK(read_npy(WORK "/files/fc/a~b.mi.npy", mx, 30) == 0);
    CHECK(read_npy(WORK "/session/fc/a~b.mi.npy", my, 30) == 0);
    CHECK(memcmp(mx, my, sizeof(float) * 30) == 0);
    CHECK(read_npy(WORK "/files/conv/a~b.mi.npy", mx, CA * CB) == 0);
    CHECK(read_npy(WORK "/session/conv/a~b.mi.npy", my, CA * CB) == 0);
    CHECK(memcmp(mx, my, sizeof(float) * CA * CB) == 0);

    /* errors */
    CHECK(cvg_session_create(&s, names, 2, o, 0) == CVG_OK);
    const int64_t f6[2] = {16, 6}, f5[2] = {16, 5}, f4[2] = {8, 6};
    deleted = 0;
    CHECK(cvg_session_push_dlpack(s, 0, "fc", wrap(fc_a, kDLFloat, 32, 2, f6, NULL, kDLCPU)) == CVG_OK);
    CHECK(cvg_session_push_dlpack(s, 0, "fc", wrap(fc_a, kDLFloat, 32, 2, f6, NULL, kDLCPU)) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "already pushed") != NULL);
    CHECK(cvg_session_push_dlpack(s, 1, "fc", wrap(fc_b, kDLFloat, 32, 2, f4, NULL, kDLCPU)) == CVG_E_BAD_DATA);
    CHECK(strstr(cvg_last_error(), "net 'b', layer 'fc'") != NULL);
    CHECK(cvg_session_push_dlpack(s, 1, "fc", wrap(fc_b, kDLFloat, 32, 2, f5, NULL, kDLCUDA)) == CVG_E_UNSUPPORTED);
    CHECK(cvg_session_push_dlpack(s, 1, "../x", wrap(fc_b, kDLFloat, 32, 2, f5, NULL, kDLCPU)) == CVG_E_BAD_DATA);
    CHECK(cvg_session_push_dlpack(s, 2, "fc", wrap(fc_b, kDLFloat, 32, 2, f5, NULL, kDLCPU)) == CVG_E_INVALID_ARG);
    CHECK(deleted == 5);
    CHECK(cvg_session_finish(s, WORK "/incomplete") == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "incomplete") != NULL);
    struct stat sb2;
    CHECK(stat(WORK "/incomplete", &sb2) != 0); /* nothing written */
    cvg_session_destroy(s);
    CHECK(deleted == 6); /* the pending tensor of the unfinished batch */
    /* a session told to expect IMG inputs that got fewer */
    CHECK(cvg_session_create(&s, names, 2, o, IMG) == CVG_OK);
    CHECK(cvg_session_push(s, 0, "fc", &fc_a[0][0], 2, f6) == CVG_OK);
    CHECK(cvg_session_push(s, 1, "fc", &fc_b[0][0], 2, f5) == CVG_OK);
    CHECK(cvg_session_finish(s, WORK "/short") == CVG_E_BAD_DATA);
    CHECK(strstr(cvg_last_error(), "expect") != NULL);
    cvg_session_destroy(s);
    const char *dup[2] = {"a", "a"};
    CHECK(cvg_session_create(&s, dup, 2, o, 0) == CVG_E_INVALID_ARG);
    cvg_options_destroy(o);
}

int main(void) {
    test_stats_layouts();
    test_zero_copy();
    test_session();
    return check_summary();
}
