/* cvg_similarity_indices / cvg_similarity_indices_data through the C ABI: a
 * hand example (whitened nets, cross-covariance diag(0.6, 0.3): canonical
 * correlations 0.6 and 0.3), a dead unit, a rotated copy (every index at
 * its identity value, debiased CKA included), options, and every error path. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol))

int main(void) {
    /* Row-major 2 x 2 blocks; net b has a dead third unit. */
    const double aa[4] = {1, 0, 0, 1};
    const double bb[9] = {1, 0, 0, 0, 1, 0, 0, 0, 0};
    const double ab[6] = {0.6, 0, 0, 0, 0.3, 0};
    cvg_similarity_result r;
    double cca[2] = {-1, -1};
    CHECK(cvg_similarity_indices(&r, aa, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, NULL, cca) == CVG_OK);
    CHECK(r.units_a == 2 && r.units_b == 3 && r.samples == 1000);
    CHECK(r.dead_a == 0 && r.dead_b == 1);
    CHECK(NEAR(cca[0], 0.6, 1e-14) && NEAR(cca[1], 0.3, 1e-14));
    CHECK(NEAR(r.cca_mean, 0.45, 1e-14));
    CHECK(NEAR(r.cka, 0.45 / 2.0, 1e-14));
    CHECK(isnan(r.cka_debiased));
    CHECK(NEAR(r.pwcca, 0.45, 1e-14) && NEAR(r.pwcca_reverse, 0.45, 1e-14));
    CHECK(NEAR(r.procrustes_euclidean, sqrt(2.2), 1e-14));
    CHECK(NEAR(r.procrustes_angular, acos(0.45), 1e-14));
    CHECK(r.ridge_a == 0 && r.ridge_b == 0 && r.warnings == 0);

    /* Column-major: the transposed storage of the same matrices. */
    const double ab_col[6] = {0.6, 0, 0, 0.3, 0, 0};
    cvg_similarity_result c;
    CHECK(cvg_similarity_indices(&c, aa, 2, bb, 3, ab_col, 2, CVG_COL_MAJOR, 2, 3, 1000, NULL, NULL) == CVG_OK);
    CHECK(NEAR(c.cca_mean, r.cca_mean, 1e-15) && NEAR(c.cka, r.cka, 1e-15));

    /* Options: partial whitening and the SVCCA variance. */
    cvg_options *opts = NULL;
    CHECK(cvg_options_create(&opts) == CVG_OK);
    CHECK(cvg_options_set_double(opts, CVG_OPT_PROCRUSTES_ALPHA, 0.0) == CVG_OK);
    CHECK(cvg_options_set_double(opts, CVG_OPT_SVCCA_VARIANCE, 0.5) == CVG_OK);
    CHECK(cvg_options_set_double(opts, CVG_OPT_PROCRUSTES_ALPHA, 1.5) == CVG_E_INVALID_ARG);
    CHECK(cvg_options_set_double(opts, CVG_OPT_CCA_RIDGE, 0.0) == CVG_E_INVALID_ARG);
    CHECK(cvg_similarity_indices(&r, aa, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, opts, NULL) == CVG_OK);
    /* Fully whitened nets: the angle is arccos(sum rho / sqrt(2 * 2)). */
    CHECK(NEAR(r.procrustes_angular, acos(0.9 / 2.0), 1e-12));
    CHECK(r.svcca_dims_a == 1 && r.svcca_dims_b == 1);

    /* From data: y is x rotated by 90 degrees; every index is exact. */
    enum { N = 50 };
    double x[N * 2], y[N * 2];
    for (int i = 0; i < N; ++i) {
        x[2 * i] = sin(0.7 * i) + 0.1 * i;
        x[2 * i + 1] = cos(1.3 * i);
        y[2 * i] = -x[2 * i + 1];
        y[2 * i + 1] = x[2 * i];
    }
    CHECK(cvg_similarity_indices_data(&r, x, 2, y, 2, CVG_ROW_MAJOR, N, 2, 2, NULL, cca) == CVG_OK);
    CHECK(NEAR(r.cka, 1.0, 1e-12) && NEAR(r.cka_debiased, 1.0, 1e-12));
    CHECK(NEAR(r.cca_mean, 1.0, 1e-12) && NEAR(r.svcca_mean, 1.0, 1e-12) && NEAR(r.pwcca, 1.0, 1e-12));
    CHECK(NEAR(r.procrustes_angular, 0.0, 1e-6) && NEAR(r.procrustes_euclidean, 0.0, 1e-6));

    /* Errors. */
    CHECK(cvg_similarity_indices(NULL, aa, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_similarity_indices(&r, NULL, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(cvg_similarity_indices(&r, aa, 1, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "cov_aa") != NULL);
    CHECK(cvg_similarity_indices(&r, aa, 2, bb, 3, ab, 3, 7, 2, 3, 1000, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_similarity_indices(&r, aa, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1, NULL, NULL) == CVG_E_INVALID_ARG);
    CHECK(cvg_similarity_indices(&r, aa, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 0, 3, 1000, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    const double asym[4] = {1, 0.5, 0, 1};
    CHECK(cvg_similarity_indices(&r, asym, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, NULL, NULL) ==
          CVG_E_INVALID_ARG);
    const double nan_aa[4] = {1, 0, 0, NAN};
    CHECK(cvg_similarity_indices(&r, nan_aa, 2, bb, 3, ab, 3, CVG_ROW_MAJOR, 2, 3, 1000, NULL, NULL) ==
          CVG_E_BAD_DATA);
    x[3] = INFINITY;
    CHECK(cvg_similarity_indices_data(&r, x, 2, y, 2, CVG_ROW_MAJOR, N, 2, 2, NULL, NULL) == CVG_E_BAD_DATA);
    CHECK(cvg_similarity_indices_data(&r, x, 1, y, 2, CVG_ROW_MAJOR, N, 2, 2, NULL, NULL) == CVG_E_INVALID_ARG);
    cvg_options_destroy(opts);
    return check_summary();
}
