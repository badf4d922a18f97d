/* cvg_stats_save when the file cannot be written completely: the call must
 * fail with CVG_E_IO and leave neither the target nor its temporary file
 * behind. A small RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with EFBIG)
 * makes the writes fail: once while the accumulator is written (large
 * accumulator), once only when the buffered stream is flushed on close
 * (small accumulator, smaller than the stream buffer). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "convergent.h"

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* Entries of dir other than "." and "..". */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
    closedir(d);
    return n;
}

/* Saves into an empty directory of its own, so any leftover file shows. */
static void save_with_limit(int64_t units, const char *name) {
    char dir[] = "test_stats_save_failure.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);

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
    CHECK(!exists(path));      /* no truncated accumulator under the real name */
    CHECK(entries(dir) == 0);  /* and no half-written temporary left over */
    cvg_stats_destroy(st);
    rmdir(dir);
}

int main(void) {
    signal(SIGXFSZ, SIG_IGN);
    save_with_limit(200, "test_stats_save_failure_large.acc"); /* 320 KB: fails inside the write */
    save_with_limit(1, "test_stats_save_failure_small.acc");   /* 48 bytes: fails on close */
    return check_summary();
}
