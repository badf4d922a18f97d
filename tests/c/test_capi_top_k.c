/* Each unit's top-k inputs through the C ABI (cvg_stats_enable_top_k,
 * cvg_stats_top_k; paper Figs. 2, 4-7, 12): pushed in batches, as DLPack
 * NCHW tensors, split over two accumulators with their own first images and
 * merged in either order, saved and loaded: always the same lists as a
 * brute-force reference written here (per image the maximum over positions,
 * first position on ties; images by value, then the lower index). Values
 * are small integers so ties are common. Misuse is a clear error that
 * leaves the accumulator as it was. */
#include <dlpack/dlpack.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convergent.h"

#define NETS 2
#define IMAGES 23
#define POSITIONS 4 /* a 2 x 2 map */
#define K 4
static const int64_t UNITS[NETS] = {3, 2};

/* data[net]: IMAGES * POSITIONS rows x UNITS[net], row image * POSITIONS + p. */
static float data0[IMAGES * POSITIONS * 3], data1[IMAGES * POSITIONS * 2];
static float *data_of(int net) { return net == 0 ? data0 : data1; }

static unsigned rng = 2024u;
static int small_int(void) {
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 16) % 6u); /* 0..5: many ties */
}

/* The reference top-k of unit u of net n over images [0, images). */
static void reference(int net, int64_t u, int images, int positions, int64_t *img, int64_t *pos, float *val) {
    const int64_t units = UNITS[net];
    const float *x = data_of(net);
    float best[IMAGES];
    int64_t where[IMAGES];
    int taken[IMAGES];
    for (int i = 0; i < images; ++i) {
        best[i] = x[(i * positions) * units + u], where[i] = 0, taken[i] = 0;
        for (int p = 1; p < positions; ++p)
            if (x[(i * positions + p) * units + u] > best[i]) best[i] = x[(i * positions + p) * units + u], where[i] = p;
    }
    for (int j = 0; j < K; ++j) {
        int pick = -1;
        for (int i = 0; i < images; ++i)
            if (!taken[i] && (pick < 0 || best[i] > best[pick])) pick = i; /* strict: the lower index wins ties */
        if (pick < 0) {
            img[j] = -1, pos[j] = -1, val[j] = NAN;
            continue;
        }
        taken[pick] = 1;
        img[j] = pick, pos[j] = where[pick], val[j] = best[pick];
    }
}

/* 1 when net's lists of st equal the reference over images [0, images). */
static int equals_reference(const cvg_stats *st, int images, int positions) {
    int ok = 1;
    for (int net = 0; net < NETS; ++net) {
        int64_t img[3 * K], pos[3 * K], rimg[K], rpos[K];
        float val[3 * K], rval[K];
        if (cvg_stats_top_k(st, net, img, pos, val, UNITS[net] * K) != CVG_OK) return 0;
        for (int64_t u = 0; u < UNITS[net]; ++u) {
            reference(net, u, images, positions, rimg, rpos, rval);
            for (int j = 0; j < K; ++j) {
                const int64_t at = u * K + j;
                if (img[at] != rimg[j] || pos[at] != rpos[j] ||
                    !((isnan(val[at]) && isnan(rval[j])) || val[at] == rval[j])) {
                    fprintf(stderr, "net %d unit %lld slot %d: got image %lld pos %lld value %g, want %lld %lld %g\n",
                            net, (long long)u, j, (long long)img[at], (long long)pos[at], val[at], (long long)rimg[j],
                            (long long)rpos[j], rval[j]);
                    ok = 0;
                }
            }
        }
    }
    return ok;
}

static cvg_stats *new_stats(int positions, int64_t first_image) {
    cvg_stats *st = NULL;
    CHECK(cvg_stats_create(&st, NETS, UNITS, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_enable_top_k(st, K, positions, first_image) == CVG_OK);
    return st;
}

/* Pushes images [first, first + count) of both nets in batches of `batch`. */
static void push_images(cvg_stats *st, int first, int count, int batch, int positions) {
    for (int i = first; i < first + count; i += batch) {
        const int n = i + batch <= first + count ? batch : first + count - i;
        for (int net = 0; net < NETS; ++net)
            CHECK(cvg_stats_push(st, net, data_of(net) + (int64_t)i * positions * UNITS[net], (int64_t)n * positions,
                                 UNITS[net], CVG_ROW_MAJOR) == CVG_OK);
    }
}

static void noop_delete(DLManagedTensor *self) { free(self); }

/* A managed NCHW float32 tensor of images [first, first + n) of net (a copy
 * in C order (n, C, 2, 2), owned by the tensor's context). */
static DLManagedTensor *nchw(int net, int first, int n) {
    const int64_t c = UNITS[net];
    struct Holder {
        DLManagedTensor m;
        int64_t shape[4];
        float values[IMAGES * POSITIONS * 3];
    } *h = calloc(1, sizeof *h);
    for (int i = 0; i < n; ++i)
        for (int64_t u = 0; u < c; ++u)
            for (int p = 0; p < POSITIONS; ++p)
                h->values[((int64_t)i * c + u) * POSITIONS + p] = data_of(net)[((first + i) * POSITIONS + p) * c + u];
    h->shape[0] = n, h->shape[1] = c, h->shape[2] = 2, h->shape[3] = 2;
    h->m.dl_tensor.data = h->values;
    h->m.dl_tensor.device.device_type = kDLCPU;
    h->m.dl_tensor.ndim = 4;
    h->m.dl_tensor.dtype.code = kDLFloat, h->m.dl_tensor.dtype.bits = 32, h->m.dl_tensor.dtype.lanes = 1;
    h->m.dl_tensor.shape = h->shape;
    h->m.deleter = noop_delete; /* frees h (m is its first member) */
    return &h->m;
}

int main(void) {
    for (int net = 0; net < NETS; ++net)
        for (int64_t i = 0; i < (int64_t)IMAGES * POSITIONS * UNITS[net]; ++i) data_of(net)[i] = (float)small_int();

    /* One accumulator, batches of 5 images (a short last batch). */
    cvg_stats *one = new_stats(POSITIONS, 0);
    push_images(one, 0, IMAGES, 5, POSITIONS);
    CHECK(equals_reference(one, IMAGES, POSITIONS));

    /* Two processes' slices, merged in either order. */
    cvg_stats *a = new_stats(POSITIONS, 0), *b = new_stats(POSITIONS, 11);
    push_images(a, 0, 11, 3, POSITIONS);
    push_images(b, 11, IMAGES - 11, 7, POSITIONS);
    cvg_stats *a2 = new_stats(POSITIONS, 0), *b2 = new_stats(POSITIONS, 11);
    push_images(a2, 0, 11, 11, POSITIONS);
    push_images(b2, 11, IMAGES - 11, 2, POSITIONS);
    CHECK(cvg_stats_merge(a, b) == CVG_OK);
    CHECK(equals_reference(a, IMAGES, POSITIONS));
    CHECK(cvg_stats_merge(b2, a2) == CVG_OK);
    CHECK(equals_reference(b2, IMAGES, POSITIONS));
    /* Overlapping images cannot be merged (the lists would count an image twice). */
    CHECK(cvg_stats_merge(a, b2) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "overlap") != NULL);
    CHECK(equals_reference(a, IMAGES, POSITIONS)); /* unchanged */

    /* The moments agree too: merged = one accumulator. */
    int64_t samples = 0;
    CHECK(cvg_stats_samples(a, &samples) == CVG_OK && samples == (int64_t)IMAGES * POSITIONS);

    /* DLPack NCHW batches give the same lists. */
    cvg_stats *dl = new_stats(POSITIONS, 0);
    for (int i = 0; i < IMAGES; i += 6) {
        const int n = i + 6 <= IMAGES ? 6 : IMAGES - i;
        for (int net = 0; net < NETS; ++net)
            CHECK(cvg_stats_push_dlpack(dl, net, nchw(net, i, n), CVG_CHANNELS_FIRST) == CVG_OK);
    }
    CHECK(equals_reference(dl, IMAGES, POSITIONS));

    /* Save and load keep the lists (and the image ranges: a loaded slice
     * still refuses to merge with an overlapping one). */
    const char *path = "test_capi_top_k.stats";
    CHECK(cvg_stats_save(one, path) == CVG_OK);
    cvg_stats *loaded = NULL;
    CHECK(cvg_stats_load(&loaded, path, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(equals_reference(loaded, IMAGES, POSITIONS));
    CHECK(cvg_stats_merge(loaded, a) == CVG_E_INVALID_ARG);
    remove(path);

    /* Misuse. */
    CHECK(cvg_stats_enable_top_k(one, K, POSITIONS, 0) == CVG_E_INVALID_ARG); /* twice */
    cvg_stats *late = NULL;
    CHECK(cvg_stats_create(&late, NETS, UNITS, CVG_BACKEND_CPU) == CVG_OK);
    int64_t img[3 * K];
    CHECK(cvg_stats_top_k(late, 0, img, NULL, NULL, 3 * K) == CVG_E_INVALID_ARG); /* not enabled */
    push_images(late, 0, 2, 2, POSITIONS);
    CHECK(cvg_stats_enable_top_k(late, K, POSITIONS, 0) == CVG_E_INVALID_ARG); /* after a push */
    CHECK(strstr(cvg_last_error(), "before the first push") != NULL);
    CHECK(cvg_stats_merge(one, late) == CVG_E_INVALID_ARG); /* top-k on one side only */
    CHECK(cvg_stats_enable_top_k(late, 0, POSITIONS, 0) == CVG_E_INVALID_ARG);
    cvg_stats *fresh = NULL;
    CHECK(cvg_stats_create(&fresh, NETS, UNITS, CVG_BACKEND_CPU) == CVG_OK);
    CHECK(cvg_stats_enable_top_k(fresh, K, 0, 0) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_enable_top_k(fresh, K, POSITIONS, -1) == CVG_E_INVALID_ARG);
    CHECK(cvg_stats_enable_top_k(fresh, K, POSITIONS, 0) == CVG_OK);
    /* A push that is not whole images is refused before anything changes. */
    CHECK(cvg_stats_push(fresh, 0, data0, POSITIONS + 1, UNITS[0], CVG_ROW_MAJOR) == CVG_E_INVALID_ARG);
    CHECK(strstr(cvg_last_error(), "whole number of images") != NULL);
    CHECK(cvg_stats_samples(fresh, &samples) == CVG_OK && samples == 0);
    CHECK(cvg_stats_top_k(one, 0, img, NULL, NULL, 3 * K - 1) == CVG_E_INVALID_ARG); /* capacity */
    CHECK(cvg_stats_top_k(one, 0, NULL, NULL, NULL, 3 * K) == CVG_E_INVALID_ARG);

    /* A dense layer with fewer images than k: the slots beyond are -1 / NaN. */
    cvg_stats *dense = new_stats(1, 0);
    push_images(dense, 0, 3, 2, 1);
    CHECK(equals_reference(dense, 3, 1));
    float val[3 * K];
    int64_t pos[3 * K];
    CHECK(cvg_stats_top_k(dense, 0, img, pos, val, 3 * K) == CVG_OK);
    CHECK(img[3] == -1 && pos[3] == -1 && isnan(val[3]) && img[0] >= 0 && pos[0] == 0);

    cvg_stats_destroy(one), cvg_stats_destroy(a), cvg_stats_destroy(b), cvg_stats_destroy(a2);
    cvg_stats_destroy(b2), cvg_stats_destroy(dl), cvg_stats_destroy(loaded), cvg_stats_destroy(late);
    cvg_stats_destroy(fresh), cvg_stats_destroy(dense);
    return check_summary();
}
