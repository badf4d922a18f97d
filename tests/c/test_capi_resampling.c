/* Resampling through the C ABI (docs/resampling.md): cvg_compare with
 * CVG_OPT_BOOTSTRAP / _HOLDOUT / _PERMUTATIONS / _BASELINE_NETS writes the
 * intervals, held-out scores and nulls, byte-identically for the same seed;
 * every new key's range is checked by the setters. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "npy_io.h"
#include "convergent.h"

#define N 200
#define U 4
#define WORK "test_capi_resampling.work"

static float net1[N][U], net2[N][U], net3[N][U];

/* The whole file (NUL-terminated), or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (text) text[size] = 0;
    fclose(f);
    return text;
}

int main(void) {
    unsigned s = 5;
    for (int i = 0; i < N; ++i)
        for (int u = 0; u < U; ++u) {
            s = s * 1103515245u + 12345u;
            double x = ((s >> 8) & 0xFFFF) / 65536.0;
            s = s * 1103515245u + 12345u;
            double e = ((s >> 8) & 0xFFFF) / 65536.0;
            s = s * 1103515245u + 12345u;
            net1[i][u] = (float)x;
            net2[i][U - 1 - u] = (float)(x + 0.5 * e); /* a planted permutation */
            net3[i][u] = (float)(((s >> 8) & 0xFFFF) / 65536.0);
        }
    if (system("rm -rf " WORK) != 0) return 2;
    mkdir(WORK, 0755);
    mkdir(WORK "/net1", 0755);
    mkdir(WORK "/net2", 0755);
    mkdir(WORK "/ref", 0755);
    CHECK(write_npy_2d(WORK "/net1/fc.npy", &net1[0][0], N, U) == 0);
    CHECK(write_npy_2d(WORK "/net2/fc.npy", &net2[0][0], N, U) == 0);
    CHECK(write_npy_2d(WORK "/ref/fc.npy", &net3[0][0], N, U) == 0);

    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    /* Ranges, checked once by the option table. */
    CHECK(cvg_options_set_int(o, CVG_OPT_BOOTSTRAP, -1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_BOOTSTRAP_BLOCKS, 1) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_CONFIDENCE, 0.0) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(o, CVG_OPT_HOLDOUT, 0.95) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_PERMUTATIONS, -3) == CVG_E_INVALID_ARG);
    int64_t value = -1;
    CHECK(cvg_options_get_int(o, CVG_OPT_BOOTSTRAP, &value) == CVG_OK && value == 0); /* off by default */

    CHECK(cvg_options_set_int(o, CVG_OPT_BACKEND, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MUTUAL_INFORMATION, 0) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_CLUSTERING, 0) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_TOP_PATCHES, 0) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_BOOTSTRAP, 25) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_BOOTSTRAP_BLOCKS, 40) == CVG_OK);
    CHECK(cvg_options_set_double(o, CVG_OPT_CONFIDENCE, 0.9) == CVG_OK);
    CHECK(cvg_options_set_double(o, CVG_OPT_HOLDOUT, 0.5) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_PERMUTATIONS, 20) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_SEED, 12) == CVG_OK);
    CHECK(cvg_options_set_string(o, CVG_OPT_BASELINE_NETS, "reference=" WORK "/ref") == CVG_OK);

    const char *inputs[2] = {WORK "/net1", WORK "/net2"};
    CHECK(cvg_compare(inputs, 2, WORK "/one", o) == CVG_OK);
    CHECK(cvg_compare(inputs, 2, WORK "/two", o) == CVG_OK);
    char *one = slurp(WORK "/one/summary.json"), *two = slurp(WORK "/two/summary.json");
    CHECK(one && two && strcmp(one, two) == 0); /* the same seed: byte-identical */
    if (one) {
        CHECK(strstr(one, "\"permutation_null\"") != NULL);
        CHECK(strstr(one, "\"held_out\"") != NULL);
        CHECK(strstr(one, "\"net1~reference\"") != NULL); /* the reference net beside the pair */
        CHECK(strstr(one, "\"baseline_nets\"") != NULL);
    }
    free(one);
    free(two);
    cvg_options_destroy(o);
    if (system("rm -rf " WORK) != 0) return 2;
    return check_summary();
}
