/* convergent — C ABI (C99). The only public C header.
 *
 * Conventions (zstd / libgit2 / FAISS c_api):
 *  - every fallible function returns int: CVG_OK (0) or a negative CVG_E_*;
 *    cvg_last_error() then gives a thread-local message (never NULL);
 *  - output handle first; *_destroy accepts NULL;
 *  - the caller owns every array; matrices are passed as pointer + rows +
 *    cols + leading dimension + layout (CVG_ROW_MAJOR / CVG_COL_MAJOR), so C,
 *    Fortran and Julia arrays pass without copies;
 *  - only int32_t/int64_t/float/double/const char* and opaque pointers cross
 *    the boundary; no exception or abort does.
 * Thread safety: distinct handles may be used from distinct threads at once;
 * one handle must not be used from two threads at the same time.
 */
#ifndef CONVERGENT_H
#define CONVERGENT_H

#include <stdint.h>

#if defined(_WIN32)
#  if defined(CONVERGENT_BUILDING_LIBRARY)
#    define CVG_API __declspec(dllexport)
#  else
#    define CVG_API __declspec(dllimport)
#  endif
#else
#  define CVG_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CVG_VERSION_MAJOR 0
#define CVG_VERSION_MINOR 1
#define CVG_VERSION_PATCH 0
#define CVG_VERSION_NUMBER (CVG_VERSION_MAJOR * 10000 + CVG_VERSION_MINOR * 100 + CVG_VERSION_PATCH)

/* Status codes. */
#define CVG_OK 0
#define CVG_E_INVALID_ARG -1
#define CVG_E_IO -2
#define CVG_E_UNSUPPORTED -3
#define CVG_E_OUT_OF_MEMORY -4
#define CVG_E_DEVICE -5
#define CVG_E_BAD_DATA -6
#define CVG_E_INTERNAL -7

/* Matrix layouts. */
#define CVG_ROW_MAJOR 0
#define CVG_COL_MAJOR 1

/* Backends. */
#define CVG_BACKEND_AUTO 0
#define CVG_BACKEND_CPU 1
#define CVG_BACKEND_CUDA 2

/* Feature bits of cvg_features(). */
#define CVG_FEATURE_CUDA 1 /* the CUDA backend is compiled in */

/* Version string, e.g. "0.1.0"; never NULL. */
CVG_API const char *cvg_version(void);
/* Version number as CVG_VERSION_NUMBER of the library actually loaded. */
CVG_API int32_t cvg_version_number(void);
/* Bit set of CVG_FEATURE_*. */
CVG_API int32_t cvg_features(void);
/* Message of the last failed call on this thread; "" if none. Never NULL. */
CVG_API const char *cvg_last_error(void);

/* ---- Streaming statistics (paper Sec. 2) --------------------------------
 * An accumulator for one layer of n_nets nets; net i has units[i] units.
 * Push batches of samples (the same samples for every net, in the same
 * order), then finalise and read mean, std and correlation blocks.
 */
typedef struct cvg_stats cvg_stats;

/* backend: CVG_BACKEND_*; CVG_BACKEND_CUDA without a GPU fails with
 * CVG_E_UNSUPPORTED. */
CVG_API int cvg_stats_create(cvg_stats **out, int32_t n_nets, const int64_t *units, int32_t backend);
CVG_API void cvg_stats_destroy(cvg_stats *stats);
/* Name of the backend that runs ("cpu" or "cuda"), never NULL for a valid handle. */
CVG_API const char *cvg_stats_backend(const cvg_stats *stats);

/* Pushes `rows` samples of net `net`: a rows x units[net] float matrix with
 * leading dimension ld in the given layout. Every net must be pushed the same
 * number of rows before the next batch of any net is completed: batches are
 * merged once all nets have pushed them. Non-finite values fail with
 * CVG_E_BAD_DATA. */
CVG_API int cvg_stats_push(cvg_stats *stats, int32_t net, const float *data, int64_t rows,
                           int64_t ld, int32_t layout);
/* Merges another accumulator with the same unit counts into stats (e.g. from
 * another process). Both must have no partially pushed batch. */
CVG_API int cvg_stats_merge(cvg_stats *stats, const cvg_stats *other);
/* Finalises: computes mean/std/correlation. Further pushes are allowed and
 * require another finalise. */
CVG_API int cvg_stats_finalize(cvg_stats *stats);

CVG_API int cvg_stats_samples(const cvg_stats *stats, int64_t *out);
/* Reads the mean / population std of net `net` into out[units[net]]. */
CVG_API int cvg_stats_mean(const cvg_stats *stats, int32_t net, double *out);
CVG_API int cvg_stats_std(const cvg_stats *stats, int32_t net, double *out);
/* Reads the correlation block (net_a, net_b): units[net_a] x units[net_b],
 * written with leading dimension ld in the given layout. net_a == net_b is
 * the within-net matrix. Dead units (zero variance) have correlation 0. */
CVG_API int cvg_stats_correlation(const cvg_stats *stats, int32_t net_a, int32_t net_b, double *out,
                                  int64_t ld, int32_t layout);
/* Number of dead units of net `net`; indices into out (size query: pass
 * out = NULL to get only the count). */
CVG_API int cvg_stats_dead_units(const cvg_stats *stats, int32_t net, int64_t *count, int64_t *out);

/* Serialises the accumulated moments to / from a file. */
CVG_API int cvg_stats_save(const cvg_stats *stats, const char *path);
CVG_API int cvg_stats_load(cvg_stats **out, const char *path, int32_t backend);

#ifdef __cplusplus
}
#endif

#endif /* CONVERGENT_H */
