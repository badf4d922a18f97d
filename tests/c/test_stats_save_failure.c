/* cvg_stats_save when the file cannot be written completely: the call must
 * fail with CVG_E_IO and leave neither the target nor its temporary file
 * behind. A small RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with EFBIG)
 * makes the writes fail: once while the accumulator is written (large
 * accumulator), once only when the buffered stream is flushed on close
 * (small accumulator, smaller than the stream buffer). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "convergent.h"

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void save_with_limit(int64_t units, const char *path) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(path);
    remove(tmp);

    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, 1, &units, CVG_BACKEND_CPU) == CVG_OK);
    float rows[2 * 256];
    for (int i = 0; i < 2 * 256; ++i) rows[i] = (float)(i % 7) + 0.25f * (float)(i / 256);
    CHECK(units <= 256);
    CHECK(cvg_stats_push(st, 0, rows, 2, units, CVG_ROW_MAJOR) == CVG_OK);

    struct rlimit old;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit small = old;
    small.rlim_cur = 16; /* bytes: less than the 48-byte header of any accumulator file */
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const int status = cvg_stats_save(st, path);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);

    CHECK(status == CVG_E_IO);
    CHECK(!exists(path));  /* no truncated accumulator under the real name */
    CHECK(!exists(tmp));   /* and no half-written temporary left over */
    remove(path);
    remove(tmp);
    cvg_stats_destroy(st);
}

int main(void) {
    signal(SIGXFSZ, SIG_IGN);
    save_with_limit(200, "test_stats_save_failure_large.acc"); /* 320 KB: fails inside the write */
    save_with_limit(1, "test_stats_save_failure_small.acc");   /* 48 bytes: fails on close */
    return check_summary();
}
