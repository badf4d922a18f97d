/* Sec. 3.1 matching through the C ABI: semi-matching, max-weight matching
 * against brute force over every one-to-one assignment, the certificate,
 * cvg_align, row/column-major inputs with padding, and every error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define MAXN 6

static unsigned rng = 99;
static double uniform(void) {
    rng = rng * 1103515245u + 12345u;
    return ((rng >> 8) & 0xFFFF) / 65536.0 * 2.0 - 1.0;
}

/* Best total weight over injective maps of the smaller side into the larger,
 * by exhaustive search (rows x cols, row-major, both <= MAXN). */
static double brute_best(const double *w, int rows, int cols, int row, unsigned used_cols, int matched,
                         int target) {
    if (matched == target) return 0.0;
    if (row == rows) return -INFINITY;
    double best = -INFINITY;
    /* leave this row unmatched only if enough rows remain */
    if (rows - row - 1 >= target - matched) best = brute_best(w, rows, cols, row + 1, used_cols, matched, target);
    for (int j = 0; j < cols; ++j) {
        if (used_cols & (1u << j)) continue;
        double v = w[row * cols + j] + brute_best(w, rows, cols, row + 1, used_cols | (1u << j), matched + 1, target);
        if (v > best) best = v;
    }
    return best;
}

static void check_shape(int rows, int cols) {
    double w[MAXN * MAXN];
    for (int i = 0; i < rows * cols; ++i) w[i] = uniform();
    const int target = rows < cols ? rows : cols;
    const double best = brute_best(w, rows, cols, 0, 0u, 0, target);

    int64_t column[MAXN];
    double value[MAXN], mean = -1, primal = -1, dual = -1, gap = -1;
    CHECK(cvg_max_weight_matching(w, rows, cols, cols, CVG_ROW_MAJOR, CVG_BACKEND_CPU, column, value, &mean,
                                  &primal, &dual, &gap) == CVG_OK);
    double total = 0;
    int matched = 0;
    unsigned used = 0;
    for (int i = 0; i < rows; ++i) {
        if (column[i] < 0) {
            CHECK(column[i] == -1 && isnan(value[i]));
            continue;
        }
        CHECK(column[i] < cols && !(used & (1u << column[i])));
        used |= 1u << column[i];
        CHECK(value[i] == w[i * cols + column[i]]);
        total += value[i];
        ++matched;
    }
    CHECK(matched == target);
    CHECK(fabs(total - best) < 1e-12);
    CHECK(fabs(primal - best) < 1e-12);
    CHECK(dual >= primal - 1e-12 && fabs(gap) < 1e-9 && fabs(dual - primal - gap) < 1e-12);
    CHECK(fabs(mean - total / matched) < 1e-12);

    /* the same matrix column-major with padding, and the optional outputs NULL */
    double cm[MAXN * (MAXN + 3)];
    const int ld = rows + 3;
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) cm[j * ld + i] = w[i * cols + j];
    int64_t column2[MAXN];
    CHECK(cvg_max_weight_matching(cm, rows, cols, ld, CVG_COL_MAJOR, CVG_BACKEND_AUTO, column2, NULL, NULL, NULL,
                                  NULL, NULL) == CVG_OK);
    CHECK(memcmp(column, column2, sizeof(int64_t) * (size_t)rows) == 0);

    /* semi-matching: per row argmax */
    int64_t semi[MAXN];
    double semi_value[MAXN], semi_mean = 0, ref_mean = 0;
    CHECK(cvg_semi_matching(cm, rows, cols, ld, CVG_COL_MAJOR, semi, semi_value, &semi_mean) == CVG_OK);
    int same = 0;
    for (int i = 0; i < rows; ++i) {
        int arg = 0;
        for (int j = 1; j < cols; ++j)
            if (w[i * cols + j] > w[i * cols + arg]) arg = j;
        CHECK(semi[i] == arg && semi_value[i] == w[i * cols + arg]);
        ref_mean += w[i * cols + arg] / rows;
        same += semi[i] == column[i];
    }
    CHECK(fabs(semi_mean - ref_mean) < 1e-12);
    /* the semi-matching is an upper bound of the matching (Table 1) */
    CHECK(semi_mean * rows >= total - 1e-12);

    /* cvg_align: the same columns, Table 1 overlap, Fig. 3 order, Fig. 1d order */
    int64_t a_semi[MAXN], a_match[MAXN], fig3[MAXN], order[MAXN];
    double overlap = -1;
    CHECK(cvg_align(w, rows, cols, cols, CVG_ROW_MAJOR, CVG_BACKEND_CPU, a_semi, a_match, &overlap, fig3, order) ==
          CVG_OK);
    CHECK(memcmp(a_semi, semi, sizeof(int64_t) * (size_t)rows) == 0);
    CHECK(memcmp(a_match, column, sizeof(int64_t) * (size_t)rows) == 0);
    CHECK(fabs(overlap - (double)same / rows) < 1e-15);
    for (int k = 1; k < rows; ++k) CHECK(semi_value[fig3[k - 1]] >= semi_value[fig3[k]]);
    unsigned seen = 0;
    for (int j = 0; j < cols; ++j) seen |= 1u << order[j];
    CHECK(seen == (1u << cols) - 1u);
    if (rows <= cols)
        for (int i = 0; i < rows; ++i) CHECK(order[i] == column[i]);
    CHECK(cvg_align(w, rows, cols, cols, CVG_ROW_MAJOR, CVG_BACKEND_CPU, NULL, NULL, NULL, NULL, NULL) == CVG_OK);
}

int main(void) {
    for (int rep = 0; rep < 5; ++rep) {
        check_shape(4, 4);
        check_shape(3, 6);
        check_shape(6, 3);
        check_shape(5, 5);
        check_shape(1, 1);
    }

    /* a tie: the lowest column wins */
    const double tie[2 * 3] = {0.5, 0.9, 0.9, 0.1, 0.1, 0.1};
    int64_t col[3];
    CHECK(cvg_semi_matching(tie, 2, 3, 3, CVG_ROW_MAJOR, col, NULL, NULL) == CVG_OK);
    CHECK(col[0] == 1 && col[1] == 0);
    /* 0 rows is fine and writes nothing */
    CHECK(cvg_semi_matching(NULL, 0, 3, 3, CVG_ROW_MAJOR, NULL, NULL, NULL) == CVG_OK);
    CHECK(cvg_max_weight_matching(NULL, 0, 0, 1, CVG_ROW_MAJOR, CVG_BACKEND_CPU, NULL, NULL, NULL, NULL, NULL,
                                  NULL) == CVG_OK);

    /* error paths, for each of the three functions */
    const double w[4] = {1, 2, 3, 4};
    double v[2], m;
    CHECK(cvg_semi_matching(NULL, 2, 2, 2, CVG_ROW_MAJOR, col, v, &m) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "similarity is NULL") != NULL);
    CHECK(cvg_semi_matching(w, 2, 2, 2, CVG_ROW_MAJOR, NULL, v, &m) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "column is NULL") != NULL);
    CHECK(cvg_semi_matching(w, 2, 2, 1, CVG_ROW_MAJOR, col, v, &m) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "leading dimension") != NULL);
    CHECK(cvg_semi_matching(w, 2, 2, 1, CVG_COL_MAJOR, col, v, &m) == CVG_E_INVALID_ARG);
    CHECK(cvg_semi_matching(w, 2, 2, 2, 2, col, v, &m) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "layout") != NULL);
    CHECK(cvg_semi_matching(w, -1, 2, 2, CVG_ROW_MAJOR, col, v, &m) == CVG_E_INVALID_ARG);
    CHECK(cvg_semi_matching(w, 2, 0, 1, CVG_ROW_MAJOR, col, v, &m) == CVG_E_INVALID_ARG);
    const double with_nan[4] = {1, NAN, 3, 4};
    CHECK(cvg_semi_matching(with_nan, 2, 2, 2, CVG_ROW_MAJOR, col, v, &m) == CVG_E_BAD_DATA);
    CHECK(strstr(cvg_last_error(), "non-finite") != NULL);
    const double with_inf[4] = {1, 2, 3, -INFINITY};
    CHECK(cvg_max_weight_matching(with_inf, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CPU, col, v, &m, NULL, NULL, NULL) ==
          CVG_E_BAD_DATA);
    CHECK(cvg_max_weight_matching(NULL, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CPU, col, v, &m, NULL, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_max_weight_matching(w, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CPU, NULL, v, &m, NULL, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_max_weight_matching(w, 2, 2, 0, CVG_ROW_MAJOR, CVG_BACKEND_CPU, col, v, &m, NULL, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_max_weight_matching(w, 2, 2, 2, -1, CVG_BACKEND_CPU, col, v, &m, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_max_weight_matching(w, 2, 2, 2, CVG_ROW_MAJOR, 7, col, v, &m, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "unknown backend 7") != NULL);
    CHECK(cvg_align(NULL, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CPU, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_align(w, 2, 2, 1, CVG_ROW_MAJOR, CVG_BACKEND_CPU, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_align(w, 2, 2, 2, 5, CVG_BACKEND_CPU, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_align(w, 2, 2, 2, CVG_ROW_MAJOR, -3, NULL, NULL, NULL, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_align(with_nan, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CPU, NULL, NULL, NULL, NULL, NULL) ==
          CVG_E_BAD_DATA);

    /* CVG_BACKEND_CUDA: without a device it is CVG_E_UNSUPPORTED, never a
     * silent CPU fallback; with one, it must give the exact optimum. */
    const double diagonal[4] = {5, 1, 1, 5};
    int rc = cvg_max_weight_matching(diagonal, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CUDA, col, v, &m, NULL, NULL, NULL);
    if (cvg_cuda_device_available()) {
        CHECK(rc == CVG_OK && col[0] == 0 && col[1] == 1);
    } else {
        CHECK(rc == CVG_E_UNSUPPORTED);
        CHECK(strstr(cvg_last_error(), "cuda") != NULL);
        CHECK(cvg_align(w, 2, 2, 2, CVG_ROW_MAJOR, CVG_BACKEND_CUDA, NULL, NULL, NULL, NULL, NULL) ==
              CVG_E_UNSUPPORTED);
    }

    return check_summary();
}
