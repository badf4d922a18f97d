/* Result export through the C ABI: cvg_compare on two small generated nets
 * (directories of .npy files written here), the correlation file it writes
 * checked against cvg_stats on the same data, options, and every error path. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "npy_io.h"
#include "convergent.h"

#define N 300
#define UA 4
#define UB 5
#define WORK "test_capi_compare.work"

static float net1[N][UA], net2[N][UB];

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

int main(void) {
    unsigned s = 77;
    for (int i = 0; i < N; ++i) {
        s = s * 1103515245u + 12345u;
        double shared = ((s >> 8) & 0xFFFF) / 65536.0;
        for (int u = 0; u < UA; ++u) {
            s = s * 1103515245u + 12345u;
            double v = shared * (u + 1) - 0.2 * u + 0.5 * ((s >> 8) & 0xFFFF) / 65536.0;
            net1[i][u] = (float)(v > 0 ? v : 0);
        }
        for (int u = 0; u < UB; ++u) {
            s = s * 1103515245u + 12345u;
            double v = shared * (UB - u) - 0.1 * u + 0.5 * ((s >> 8) & 0xFFFF) / 65536.0;
            net2[i][u] = (float)(v > 0 ? v : 0);
        }
    }
    if (system("rm -rf " WORK) != 0) return 2;
    mkdir(WORK, 0755);
    mkdir(WORK "/net1", 0755);
    mkdir(WORK "/net2", 0755);
    mkdir(WORK "/other", 0755);
    CHECK(write_npy_2d(WORK "/net1/fc.npy", &net1[0][0], N, UA) == 0);
    CHECK(write_npy_2d(WORK "/net2/fc.npy", &net2[0][0], N, UB) == 0);
    CHECK(write_npy_2d(WORK "/net1/relu.npy", &net1[0][0], N, UA) == 0);
    CHECK(write_npy_2d(WORK "/net2/relu.npy", &net2[0][0], N, UB) == 0);
    CHECK(write_npy_2d(WORK "/other/pool.npy", &net2[0][0], N, UB) == 0);

    const char *inputs[2] = {WORK "/net1", WORK "/net2"};
    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_BACKEND, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_SAMPLES, 200) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_BINS, 8) == CVG_OK);
    CHECK(cvg_options_set_string(o, CVG_OPT_LASSO_ALPHAS, "0.1,0.01") == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_CHUNK_ROWS, 64) == CVG_OK);
    CHECK(cvg_compare(inputs, 2, WORK "/out", o) == CVG_OK);
    CHECK(exists(WORK "/out/summary.json"));
    CHECK(exists(WORK "/out/fc/net1~net2.corr.npy"));
    CHECK(exists(WORK "/out/fc/net1~net2.mi.npy"));
    CHECK(exists(WORK "/out/relu/net1~net2.corr.npy"));
    {
        /* summary.json names the options given */
        FILE *f = fopen(WORK "/out/summary.json", "rb");
        static char text[1 << 20];
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[n] = '\0';
        CHECK(strstr(text, "\"schema_version\": 1") != NULL);
        CHECK(strstr(text, "\"mi_bins\": 8") != NULL);
        CHECK(strstr(text, "\"backend_requested\": \"cpu\"") != NULL);
        CHECK(strstr(text, "\"sparse_prediction\"") != NULL);
    }
    /* the exported correlation equals the one of cvg_stats on the same data */
    const int64_t units[2] = {UA, UB};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push(st, 0, &net1[0][0], N, UA, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, &net2[0][0], N, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_finalize(st) == CVG_OK);
    double corr[UA * UB];
    float exported[UA * UB];
    CHECK(cvg_stats_correlation(st, 0, 1, corr, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(read_npy(WORK "/out/fc/net1~net2.corr.npy", exported, UA * UB) == 0);
    for (int i = 0; i < UA * UB; ++i) CHECK(fabs(exported[i] - corr[i]) < 1e-6);
    cvg_stats_destroy(st);

    /* out_dir exists and is not empty: CVG_E_IO unless CVG_OPT_OVERWRITE */
    CHECK(cvg_compare(inputs, 2, WORK "/out", o) == CVG_E_IO);
    CHECK(strstr(cvg_last_error(), "out") != NULL);
    CHECK(cvg_options_set_int(o, CVG_OPT_OVERWRITE, 1) == CVG_OK);
    /* only some layers, with analyses switched off */
    CHECK(cvg_options_set_string(o, CVG_OPT_LAYERS, "relu") == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MUTUAL_INFORMATION, 0) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTERING, 0) == CVG_OK);
    CHECK(!exists(WORK "/out/fc/net1~net2.lasso_weights.npy"));
    CHECK(cvg_options_set_int(o, CVG_OPT_LASSO_KEEP_WEIGHTS, 1) == CVG_OK);
    CHECK(cvg_compare(inputs, 2, WORK "/out", o) == CVG_OK);
    CHECK(exists(WORK "/out/relu/net1~net2.corr.npy") && !exists(WORK "/out/fc"));
    CHECK(!exists(WORK "/out/relu/net1~net2.mi.npy"));
    CHECK(exists(WORK "/out/relu/net1~net2.lasso_weights.npy"));

    /* a layer some net lacks */
    CHECK(cvg_options_set_string(o, CVG_OPT_LAYERS, "conv9") == CVG_OK);
    CHECK(cvg_compare(inputs, 2, WORK "/out2", o) == CVG_E_BAD_DATA);
    CHECK(strstr(cvg_last_error(), "conv9") != NULL && !exists(WORK "/out2"));
    CHECK(cvg_options_set_string(o, CVG_OPT_LAYERS, "") == CVG_OK);
    const char *mismatched[2] = {WORK "/net1", WORK "/other"};
    CHECK(cvg_compare(mismatched, 2, WORK "/out2", o) == CVG_E_BAD_DATA);
    /* argument errors */
    CHECK(cvg_compare(NULL, 2, WORK "/out2", o) == CVG_E_INVALID_ARG);
    CHECK(cvg_compare(inputs, 1, WORK "/out2", o) == CVG_E_INVALID_ARG);
    CHECK(cvg_compare(inputs, -3, WORK "/out2", o) == CVG_E_INVALID_ARG);
    const char *with_null[2] = {WORK "/net1", NULL};
    CHECK(cvg_compare(with_null, 2, WORK "/out2", o) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "inputs[1]") != NULL);
    const char *with_empty[2] = {WORK "/net1", ""};
    CHECK(cvg_compare(with_empty, 2, WORK "/out2", o) == CVG_E_INVALID_ARG);
    CHECK(cvg_compare(inputs, 2, NULL, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_compare(inputs, 2, "", o) == CVG_E_INVALID_ARG);
    const char *same[2] = {WORK "/net1", WORK "/net1"};
    CHECK(cvg_compare(same, 2, WORK "/out2", o) == CVG_E_INVALID_ARG);
    const char *missing[2] = {WORK "/net1", WORK "/no-such-net"};
    CHECK(cvg_compare(missing, 2, WORK "/out2", o) == CVG_E_IO);
    CHECK(strstr(cvg_last_error(), "no-such-net") != NULL);
    CHECK(!exists(WORK "/out2"));
    /* NaN in an input */
    net2[5][2] = NAN;
    mkdir(WORK "/nan", 0755);
    CHECK(write_npy_2d(WORK "/nan/fc.npy", &net2[0][0], N, UB) == 0);
    CHECK(write_npy_2d(WORK "/nan/relu.npy", &net2[0][0], N, UB) == 0);
    const char *with_nan[2] = {WORK "/net1", WORK "/nan"};
    CHECK(cvg_compare(with_nan, 2, WORK "/out2", o) == CVG_E_BAD_DATA);
    CHECK(!exists(WORK "/out2"));
    /* CUDA without a device: refused, nothing written */
    CHECK(cvg_options_set_int(o, CVG_OPT_BACKEND, CVG_BACKEND_CUDA) == CVG_OK);
    int rc = cvg_compare(inputs, 2, WORK "/out3", o);
    if (cvg_cuda_device_available()) {
        CHECK(rc == CVG_OK);
    } else {
        CHECK(rc == CVG_E_UNSUPPORTED && !exists(WORK "/out3"));
    }
    /* defaults (opts NULL) work too */
    CHECK(cvg_compare(inputs, 2, WORK "/out4", NULL) == CVG_OK);

    cvg_options_destroy(o);
    if (failures == 0 && system("rm -rf " WORK) != 0) fprintf(stderr, "could not remove " WORK "\n");
    return check_summary();
}
