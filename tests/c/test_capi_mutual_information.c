/* Sec. 3.2 mutual information through the C ABI: row sampling, percentile
 * binning against a direct implementation of the documented rule (numpy's
 * linear quantiles), plug-in MI against counts computed here, layouts, and
 * every error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define S 500   /* samples */
#define UA 3
#define UB 2
#define BINS 5  /* percentile bins besides the zero bin */

static float a_rm[S][UA];         /* row-major */
static float b_cm[UB][S + 7];     /* column-major, ld = S + 7 */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The documented binning rule of one unit (values[s * stride]). */
static void reference_codes(const float *values, int stride, int *codes) {
    double r[S];
    int m = 0;
    for (int s = 0; s < S; ++s)
        if ((double)values[s * stride] > 1e-6) r[m++] = values[s * stride];
    qsort(r, (size_t)m, sizeof(double), cmp_double);
    double e[BINS - 1];
    for (int k = 1; k < BINS && m > 0; ++k) {
        double h = (m - 1) * ((double)k / BINS);
        int i = (int)floor(h);
        double t = h - i;
        if (i >= m - 1) e[k - 1] = r[m - 1];
        else if (t >= 0.5) e[k - 1] = r[i + 1] - (r[i + 1] - r[i]) * (1 - t);
        else e[k - 1] = r[i] + (r[i + 1] - r[i]) * t;
    }
    for (int s = 0; s < S; ++s) {
        double v = values[s * stride];
        if (v <= 1e-6) {
            codes[s] = 0;
            continue;
        }
        int c = 1;
        for (int k = 0; k < BINS - 1; ++k) c += e[k] < v;
        codes[s] = c;
    }
}

static double reference_mi(const int *x, const int *y) {
    double joint[BINS + 1][BINS + 1] = {{0}}, px[BINS + 1] = {0}, py[BINS + 1] = {0};
    for (int s = 0; s < S; ++s) {
        joint[x[s]][y[s]] += 1.0 / S;
        px[x[s]] += 1.0 / S;
        py[y[s]] += 1.0 / S;
    }
    double mi = 0;
    for (int i = 0; i <= BINS; ++i)
        for (int j = 0; j <= BINS; ++j)
            if (joint[i][j] > 0) mi += joint[i][j] * log(joint[i][j] / (px[i] * py[j]));
    return mi > 0 ? mi : 0;
}

int main(void) {
    unsigned s = 4242;
    for (int i = 0; i < S; ++i) {
        s = s * 1103515245u + 12345u;
        double shared = ((s >> 8) & 0xFFFF) / 65536.0;
        for (int u = 0; u < UA; ++u) {
            s = s * 1103515245u + 12345u;
            double v = shared * (u + 1) - 0.3 + 0.2 * ((s >> 8) & 0xFFFF) / 65536.0;
            a_rm[i][u] = (float)(v > 0 ? v : 0); /* ReLU: mass at zero */
        }
        for (int u = 0; u < UB; ++u) {
            s = s * 1103515245u + 12345u;
            b_cm[u][i] = u == 1 ? 0.0f : (float)(1.0 - shared + 0.1 * ((s >> 8) & 0xFFFF) / 65536.0);
        }
    }

    /* sampling: sorted, distinct, in range, deterministic, all rows when
     * count >= total */
    int64_t rows[50], rows2[50];
    CHECK(cvg_sample_rows(1000, 50, 3, rows) == CVG_OK);
    CHECK(cvg_sample_rows(1000, 50, 3, rows2) == CVG_OK);
    CHECK(memcmp(rows, rows2, sizeof rows) == 0);
    for (int i = 0; i < 50; ++i) CHECK(rows[i] >= 0 && rows[i] < 1000 && (i == 0 || rows[i] > rows[i - 1]));
    CHECK(cvg_sample_rows(1000, 50, 4, rows2) == CVG_OK);
    CHECK(memcmp(rows, rows2, sizeof rows) != 0);
    CHECK(cvg_sample_rows(7, 50, 3, rows) == CVG_OK);
    for (int i = 0; i < 7; ++i) CHECK(rows[i] == i);
    CHECK(cvg_sample_rows(0, 5, 0, NULL) == CVG_OK);
    CHECK(cvg_sample_rows(-1, 5, 0, rows) == CVG_E_INVALID_ARG);
    CHECK(cvg_sample_rows(10, -5, 0, rows) == CVG_E_INVALID_ARG);
    CHECK(cvg_sample_rows(10, 5, 0, NULL) == CVG_E_INVALID_ARG);

    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    CHECK(cvg_options_set_int(o, CVG_OPT_MI_BINS, BINS) == CVG_OK);
    cvg_binned *ba = NULL, *bb = NULL;
    CHECK(cvg_bin_units(&ba, &a_rm[0][0], S, UA, UA, CVG_ROW_MAJOR, o) == CVG_OK);
    CHECK(cvg_bin_units(&bb, &b_cm[0][0], S, UB, S + 7, CVG_COL_MAJOR, o) == CVG_OK);
    int64_t units = 0, samples = 0;
    int32_t bins = 0;
    CHECK(cvg_binned_shape(ba, &units, &samples, &bins) == CVG_OK);
    CHECK(units == UA && samples == S && bins == BINS + 1);
    CHECK(cvg_binned_shape(bb, NULL, NULL, &bins) == CVG_OK && bins == BINS + 1);

    /* codes against the documented rule, read back in both layouts */
    static int ref_a[UA][S], ref_b[UB][S];
    static int32_t codes_a[S * UA], codes_b[UB * (S + 1)];
    for (int u = 0; u < UA; ++u) reference_codes(&a_rm[0][u], UA, ref_a[u]);
    for (int u = 0; u < UB; ++u) reference_codes(&b_cm[u][0], 1, ref_b[u]);
    CHECK(cvg_binned_codes(ba, codes_a, UA, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_binned_codes(bb, codes_b, S + 1, CVG_COL_MAJOR) == CVG_OK);
    int mismatches = 0;
    for (int i = 0; i < S; ++i) {
        for (int u = 0; u < UA; ++u) mismatches += codes_a[i * UA + u] != ref_a[u][i];
        for (int u = 0; u < UB; ++u) mismatches += codes_b[u * (S + 1) + i] != ref_b[u][i];
    }
    CHECK(mismatches == 0);
    /* the all-zero unit b1: every code 0, no edges */
    int64_t n_edges = -1;
    double edges[BINS];
    CHECK(cvg_binned_edges(bb, 1, &n_edges, NULL, 0) == CVG_OK && n_edges == 0);
    CHECK(cvg_binned_edges(ba, 0, &n_edges, NULL, 0) == CVG_OK && n_edges == BINS - 1);
    CHECK(cvg_binned_edges(ba, 0, &n_edges, edges, BINS) == CVG_OK);
    for (int k = 1; k < n_edges; ++k) CHECK(edges[k - 1] <= edges[k]);
    CHECK(cvg_binned_edges(ba, 0, &n_edges, edges, BINS - 2) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "capacity") != NULL);
    CHECK(cvg_binned_edges(ba, UA, &n_edges, edges, BINS) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_edges(ba, -1, &n_edges, edges, BINS) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_edges(ba, 0, NULL, edges, BINS) == CVG_E_INVALID_ARG);

    /* MI between nets and within a net, against counts made here */
    double mi_ab[UA * UB], mi_cm[UB * (UA + 2)], mi_aa[UA * UA];
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_CPU, mi_ab, UB, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_AUTO, mi_cm, UA + 2, CVG_COL_MAJOR) == CVG_OK);
    CHECK(cvg_mutual_information(ba, ba, CVG_BACKEND_CPU, mi_aa, UA, CVG_ROW_MAJOR) == CVG_OK);
    for (int i = 0; i < UA; ++i) {
        for (int j = 0; j < UB; ++j) {
            CHECK(fabs(mi_ab[i * UB + j] - reference_mi(ref_a[i], ref_b[j])) < 1e-10);
            CHECK(fabs(mi_cm[j * (UA + 2) + i] - mi_ab[i * UB + j]) < 1e-10);
        }
        for (int j = 0; j < UA; ++j) CHECK(fabs(mi_aa[i * UA + j] - reference_mi(ref_a[i], ref_a[j])) < 1e-10);
    }
    CHECK(mi_ab[0 * UB + 0] > 0.1);          /* a0 and b0 share `shared` */
    for (int i = 0; i < UA; ++i) CHECK(mi_ab[i * UB + 1] == 0.0); /* constant unit: no information */

    /* error paths */
    cvg_binned *x = (cvg_binned *)0x1;
    CHECK(cvg_bin_units(NULL, &a_rm[0][0], S, UA, UA, CVG_ROW_MAJOR, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_bin_units(&x, NULL, S, UA, UA, CVG_ROW_MAJOR, o) == CVG_E_INVALID_ARG && x == NULL);
    CHECK(cvg_bin_units(&x, &a_rm[0][0], 0, UA, UA, CVG_ROW_MAJOR, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_bin_units(&x, &a_rm[0][0], S, 0, UA, CVG_ROW_MAJOR, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_bin_units(&x, &a_rm[0][0], S, UA, UA - 1, CVG_ROW_MAJOR, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_bin_units(&x, &a_rm[0][0], S, UA, UA, CVG_COL_MAJOR, o) == CVG_E_INVALID_ARG);
    CHECK(cvg_bin_units(&x, &a_rm[0][0], S, UA, UA, 9, o) == CVG_E_INVALID_ARG);
    float bad[4] = {1, 2, NAN, 4};
    CHECK(cvg_bin_units(&x, bad, 4, 1, 1, CVG_ROW_MAJOR, NULL) == CVG_E_BAD_DATA && x == NULL);
    CHECK(cvg_binned_shape(NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_codes(NULL, codes_a, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_codes(ba, NULL, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_codes(ba, codes_a, UA - 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_codes(ba, codes_a, S - 1, CVG_COL_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_codes(ba, codes_a, UA, 3) == CVG_E_INVALID_ARG);
    CHECK(cvg_binned_edges(NULL, 0, &n_edges, NULL, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(NULL, bb, CVG_BACKEND_CPU, mi_ab, UB, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(ba, NULL, CVG_BACKEND_CPU, mi_ab, UB, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_CPU, NULL, UB, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_CPU, mi_ab, UB - 1, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_CPU, mi_ab, UA - 1, CVG_COL_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(ba, bb, CVG_BACKEND_CPU, mi_ab, UB, 4) == CVG_E_INVALID_ARG);
    CHECK(cvg_mutual_information(ba, bb, 11, mi_ab, UB, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    /* different sample counts / bin counts */
    cvg_binned *fewer = NULL, *coarser = NULL;
    CHECK(cvg_bin_units(&fewer, &a_rm[0][0], S - 1, UA, UA, CVG_ROW_MAJOR, o) == CVG_OK);
    CHECK(cvg_mutual_information(ba, fewer, CVG_BACKEND_CPU, mi_aa, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "samples") != NULL);
    CHECK(cvg_bin_units(&coarser, &a_rm[0][0], S, UA, UA, CVG_ROW_MAJOR, NULL) == CVG_OK); /* 20 bins */
    CHECK(cvg_mutual_information(ba, coarser, CVG_BACKEND_CPU, mi_aa, UA, CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "bins") != NULL);
    /* CUDA without a device */
    int rc = cvg_mutual_information(ba, bb, CVG_BACKEND_CUDA, mi_ab, UB, CVG_ROW_MAJOR);
    if (cvg_cuda_device_available()) {
        CHECK(rc == CVG_OK && fabs(mi_ab[0] - reference_mi(ref_a[0], ref_b[0])) < 1e-9);
    } else {
        CHECK(rc == CVG_E_UNSUPPORTED);
    }

    cvg_binned_destroy(fewer);
    cvg_binned_destroy(coarser);
    cvg_binned_destroy(ba);
    cvg_binned_destroy(bb);
    cvg_binned_destroy(NULL);
    cvg_options_destroy(o);
    return check_summary();
}
