/* Shared by the C ABI tests (tests/c/test_*.c): a CHECK macro that counts
 * checks and failures and, on a failure, prints file:line, the expression and
 * cvg_last_error(); check_summary() prints the closing "N passed, M failed"
 * line and returns the program's exit code. Each test program is a single
 * translation unit, so the counters are static to it. */
#ifndef CONVERGENT_TESTS_C_CHECK_H
#define CONVERGENT_TESTS_C_CHECK_H

#include <stdio.h>

#include "convergent.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        ++checks;                                                                                    \
        if (!(cond)) {                                                                               \
            ++failures;                                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
                    cvg_last_error());                                                               \
        }                                                                                            \
    } while (0)

/* Prints "N passed, M failed" and returns 0 when nothing failed, else 1. */
static int check_summary(void) {
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}

#endif /* CONVERGENT_TESTS_C_CHECK_H */
