/* An external program against an installed libconvergent: the version it
 * was built against (argv[1]) must be the one loaded, and a small analysis
 * must run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <convergent.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], cvg_version()) != 0) {
        fprintf(stderr, "built for %s, loaded %s\n", argv[1], cvg_version());
        return 1;
    }
    const double similarity[3 * 3] = {0.1, 0.9, 0.2, 0.8, 0.7, 0.1, 0.3, 0.2, 0.6};
    int64_t column[3];
    double gap = 1;
    if (cvg_max_weight_matching(similarity, 3, 3, 3, CVG_ROW_MAJOR, CVG_BACKEND_CPU, column, NULL, NULL, NULL, NULL,
                                &gap) != CVG_OK) {
        fprintf(stderr, "matching failed: %s\n", cvg_last_error());
        return 1;
    }
    if (column[0] != 1 || column[1] != 0 || column[2] != 2 || fabs(gap) > 1e-9) {
        fprintf(stderr, "wrong matching\n");
        return 1;
    }
    printf("convergent %s: matching %lld %lld %lld\n", cvg_version(), (long long)column[0], (long long)column[1],
           (long long)column[2]);
    return 0;
}
