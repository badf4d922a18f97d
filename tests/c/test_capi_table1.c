/* cvg_table1: Table 1 of a net pair from finalised statistics, with dead
 * units excluded (default) or included with correlation 0
 * (CVG_OPT_DEAD_UNITS), equal to cvg_align on the correlation block for the
 * included case and to the live sub-block for the excluded one. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define N 300
#define U 4

int main(void) {
    /* net 1 = net 0 reversed plus noise; unit 2 of net 0 and unit 0 of net 1 dead */
    float a[N * U], b[N * U];
    unsigned s = 12345u;
    for (int i = 0; i < N; ++i)
        for (int j = 0; j < U; ++j) {
            s = s * 1103515245u + 12345u;
            a[i * U + j] = (float)((s >> 8) % 10000) / 1000.0f;
        }
    for (int i = 0; i < N; ++i)
        for (int j = 0; j < U; ++j) {
            s = s * 1103515245u + 12345u;
            b[i * U + j] = a[i * U + (U - 1 - j)] + (float)((s >> 8) % 1000) / 2000.0f;
        }
    for (int i = 0; i < N; ++i) {
        a[i * U + 2] = 0.0f;
        b[i * U + 0] = 3.0f;
    }
    const int64_t units[2] = {U, U};
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 2, units, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_push(st, 0, a, N, U, CVG_ROW_MAJOR) == CVG_OK);
    CHECK(cvg_stats_push(st, 1, b, N, U, CVG_ROW_MAJOR) == CVG_OK);
    /* not finalised yet */
    double semi = 0, matching = 0, overlap = 0;
    CHECK(cvg_table1(st, 0, 1, NULL, &semi, &matching, &overlap) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_finalize(st) == CVG_OK);

    double c[U * U];
    CHECK(cvg_stats_correlation(st, 0, 1, c, U, CVG_ROW_MAJOR) == CVG_OK);

    /* include: equals cvg_align on the whole block (dead rows/columns are 0) */
    cvg_options *o = NULL;
    CHECK(cvg_options_create(&o) == CVG_OK);
    CHECK(cvg_options_set_string(o, CVG_OPT_DEAD_UNITS, "include") == CVG_OK);
    CHECK(cvg_table1(st, 0, 1, o, &semi, &matching, &overlap) == CVG_OK);
    double ref_overlap = 0;
    int64_t semi_col[U], match_col[U];
    CHECK(cvg_align(c, U, U, U, CVG_ROW_MAJOR, CVG_BACKEND_CPU, semi_col, match_col, &ref_overlap, NULL, NULL) == CVG_OK);
    double ref_semi = 0, ref_match = 0;
    for (int i = 0; i < U; ++i) {
        ref_semi += c[i * U + semi_col[i]] / U;
        ref_match += c[i * U + match_col[i]] / U;
    }
    CHECK(fabs(semi - ref_semi) < 1e-12 && fabs(matching - ref_match) < 1e-12 && overlap == ref_overlap);

    /* exclude (default): the live 3 x 3 block; the reversal is recovered:
     * live rows 0, 1, 3 of net 0 match units 3, 2, ... of net 1 (unit 0 dead) */
    double ex_semi = 0, ex_match = 0, ex_overlap = 0;
    CHECK(cvg_table1(st, 0, 1, NULL, &ex_semi, &ex_match, &ex_overlap) == CVG_OK);
    const int rows[3] = {0, 1, 3}, cols[3] = {1, 2, 3};
    double live_semi = 0;
    for (int r = 0; r < 3; ++r) {
        double best = -2;
        for (int k = 0; k < 3; ++k)
            if (c[rows[r] * U + cols[k]] > best) best = c[rows[r] * U + cols[k]];
        live_semi += best / 3;
    }
    CHECK(fabs(ex_semi - live_semi) < 1e-12);
    CHECK(ex_match > matching); /* zeros for dead units pull the included mean down */
    CHECK(cvg_table1(st, 0, 1, NULL, NULL, NULL, NULL) == CVG_OK); /* every output optional */

    /* errors */
    CHECK(cvg_table1(st, 0, 0, NULL, &semi, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_table1(st, 0, 2, NULL, &semi, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_table1(NULL, 0, 1, NULL, &semi, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_int(o, CVG_OPT_DEAD_UNITS, 2) == CVG_E_INVALID_ARG);
    cvg_options_destroy(o);
    CHECK(cvg_table1(st, 0, 1, o, &semi, NULL, NULL) == CVG_E_INVALID_ARG); /* destroyed options */
    cvg_stats_destroy(st);
    return check_summary();
}
