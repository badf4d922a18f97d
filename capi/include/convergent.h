/* convergent — C ABI (C99). The only public C header.
 *
 * Implements the analyses of Li et al., "Convergent Learning: Do different
 * neural networks learn the same representations?" (ICLR 2016) behind a
 * stable C interface; see docs/c_api.md for an overview and an example.
 *
 * Conventions (zstd / libgit2 / FAISS c_api):
 *  - every fallible function returns int: CVG_OK (0) or a negative CVG_E_*;
 *    cvg_last_error() then gives a thread-local message (never NULL). A
 *    successful call clears the message. The status codes every function can
 *    return are listed with it; CVG_E_OUT_OF_MEMORY and CVG_E_INTERNAL (a bug)
 *    can come from any fallible function and are not repeated.
 *  - output handle first (cvg_X_create(cvg_X **out, ...)); on failure *out is
 *    set to NULL. *_destroy accepts NULL.
 *  - the caller owns every array; the library never keeps a pointer to a
 *    caller array after a call returns and never returns memory the caller
 *    must free (only handles, freed by their *_destroy). Strings returned as
 *    const char* are owned by the library (see each function for lifetime).
 *  - matrices are passed as pointer + rows + cols + leading dimension +
 *    layout (CVG_ROW_MAJOR: element (i, j) at p[i * ld + j], ld >= cols;
 *    CVG_COL_MAJOR: at p[j * ld + i], ld >= rows), so C, Fortran and Julia
 *    arrays pass without copies. ld must also be >= 1. A wrong layout or a
 *    too small ld fails with CVG_E_INVALID_ARG.
 *  - variable-size outputs use size query + fill: `int64_t *count` always
 *    receives the number of elements; with out == NULL nothing else happens;
 *    otherwise out must hold `capacity` >= *count elements (else
 *    CVG_E_INVALID_ARG and nothing is written).
 *  - only int32_t/int64_t/float/double/const char* and opaque pointers cross
 *    the boundary (no bool: flags are int32_t 0/1, no struct by value); no
 *    exception or abort does.
 *  - indices are 0-based everywhere (units, nets, clusters, alphas).
 *
 * Handles: cvg_context, cvg_stats, cvg_options, cvg_binned, cvg_sparse,
 * cvg_clustering.
 * Every live handle is registered when created and unregistered by its
 * *_destroy; passing a handle that is not live (already destroyed, never
 * created, or a handle of another type) fails with CVG_E_INVALID_ARG and a
 * message saying so, and destroying it twice is a no-op. This detection is
 * best effort: if a new handle of the same type happens to be created at the
 * address of a destroyed one, the stale pointer refers to the new handle.
 *
 * Thread safety: every function may be called from any thread. Distinct
 * handles may be used from distinct threads at once. Functions that take a
 * handle as `const` may run concurrently on the same handle; a function that
 * takes it non-const (push, merge, finalize, set, destroy) needs exclusive
 * access to it. cvg_last_error() is per thread. A cvg_context is the
 * exception the other way round: the calls that use one take it as const and
 * may share it across threads (see "Backend contexts").
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
#define CVG_E_INVALID_ARG -1   /* NULL/dead handle, NULL output, bad size, ld, layout, option */
#define CVG_E_IO -2            /* file missing, unreadable, not writable */
#define CVG_E_UNSUPPORTED -3   /* valid request this build/machine cannot serve (cuda without a GPU) */
#define CVG_E_OUT_OF_MEMORY -4
#define CVG_E_DEVICE -5        /* a CUDA call failed */
#define CVG_E_BAD_DATA -6      /* readable input with wrong content (NaN/Inf, bad file, shapes) */
#define CVG_E_INTERNAL -7      /* a bug: please report it with cvg_last_error() */

/* Matrix layouts. */
#define CVG_ROW_MAJOR 0
#define CVG_COL_MAJOR 1

/* Backends. CVG_BACKEND_AUTO = CUDA when compiled in and a device is
 * present, else CPU. An explicit CVG_BACKEND_CUDA that cannot be met fails
 * with CVG_E_UNSUPPORTED, never silently falls back. */
#define CVG_BACKEND_AUTO 0
#define CVG_BACKEND_CPU 1
#define CVG_BACKEND_CUDA 2

/* Feature bits of cvg_features(). */
#define CVG_FEATURE_CUDA 1 /* the CUDA backend is compiled in */
#define CVG_FEATURE_MPI 2  /* cvg_compare_mpi (convergent_mpi.h) is compiled in */

/* ---- Library ------------------------------------------------------------ */

/* Version string, e.g. "0.1.0"; static storage, never NULL. */
CVG_API const char *cvg_version(void);
/* Version number as CVG_VERSION_NUMBER of the library actually loaded. */
CVG_API int32_t cvg_version_number(void);
/* Bit set of CVG_FEATURE_*. */
CVG_API int32_t cvg_features(void);
/* 1 when the CUDA backend is compiled in and a CUDA device is usable now,
 * else 0 (then CVG_BACKEND_CUDA fails with CVG_E_UNSUPPORTED). */
CVG_API int32_t cvg_cuda_device_available(void);
/* Message of the last failed call on this thread; "" if the last call
 * succeeded. Never NULL; valid until the next convergent call on this thread. */
CVG_API const char *cvg_last_error(void);

/* ---- Backend contexts (FAISS StandardGpuResources, cuBLAS handles) --------
 * A cvg_context holds one backend instance (for CUDA: the device context,
 * stream, cuBLAS/cuSOLVER handles), created once and passed to the *_ctx
 * variants of the calls that run backend kernels, so a caller does not pay
 * for a backend per call:
 *   cvg_stats_create_ctx / cvg_stats_load_ctx (the pushes run on it),
 *   cvg_max_weight_matching_ctx, cvg_align_ctx, cvg_mutual_information_ctx,
 *   cvg_spectral_clustering_ctx.
 * A *_ctx call is its non-context twin with `int32_t backend` replaced by
 * `const cvg_context *ctx` (placed first, after an output handle if any),
 * and the same outputs, results and errors; a ctx that is NULL or not live is
 * CVG_E_INVALID_ARG.
 *
 * The calls without a context (backend given as CVG_BACKEND_*) use a default
 * instance per backend, created by the first call that needs it and shared by
 * every such call in the process (never freed; CVG_BACKEND_AUTO picks CUDA or
 * CPU on every call).
 *
 * Threads: a context may be used by any number of threads at once (the calls
 * take it as const). The CPU backend is stateless, so CPU calls run fully in
 * parallel; a CUDA context runs its kernels on one stream, so concurrent
 * calls take turns on the device (create one context per thread for
 * concurrent device work). cvg_context_destroy needs that no call using ctx
 * is in flight. Handles created from a context (cvg_stats) keep the backend
 * alive: the context may be destroyed before them.
 */
typedef struct cvg_context cvg_context;

/* Creates a context for backend CVG_BACKEND_AUTO (CUDA when compiled in and
 * a device is present, else CPU), _CPU or _CUDA; freed with
 * cvg_context_destroy. Errors: CVG_E_INVALID_ARG (out NULL, unknown
 * backend), CVG_E_UNSUPPORTED (CVG_BACKEND_CUDA in a build without the CUDA
 * backend, or without a usable device; the message says which),
 * CVG_E_DEVICE. */
CVG_API int cvg_context_create(cvg_context **out, int32_t backend);
/* Frees ctx; NULL and non-live handles are ignored. */
CVG_API void cvg_context_destroy(cvg_context *ctx);
/* The backend the context resolved to: CVG_BACKEND_CPU or CVG_BACKEND_CUDA
 * (never AUTO). Errors: CVG_E_INVALID_ARG (ctx NULL/not live, out NULL). */
CVG_API int cvg_context_backend(const cvg_context *ctx, int32_t *out);
/* Human-readable description of what runs, e.g. "cpu (Eigen 3.4, ...)" or
 * "cuda (NVIDIA H200, sm_90, ...)", NUL-terminated into buf[capacity]. Size
 * query: *length receives its strlen; buf may be NULL; a buf too small for
 * *length + 1 bytes is CVG_E_INVALID_ARG and nothing is written. Errors:
 * CVG_E_INVALID_ARG (ctx NULL/not live, length NULL, capacity too small). */
CVG_API int cvg_context_description(const cvg_context *ctx, char *buf, int64_t capacity, int64_t *length);

/* ---- Options by key ------------------------------------------------------
 * One cvg_options holds every tunable of every analysis; a function reads the
 * keys it needs (listed per key below: C = cvg_compare, B = cvg_bin_units,
 * S = cvg_sparse_prediction, K = cvg_spectral_clustering,
 * I = cvg_similarity_indices) and ignores the
 * others. A NULL cvg_options* means "all defaults" wherever one is taken.
 * Values are validated when set: an unknown key, a value of the wrong type or
 * out of range fails with CVG_E_INVALID_ARG and leaves the option unchanged.
 * Types: INT keys take cvg_options_set_int; DOUBLE keys take
 * cvg_options_set_double or cvg_options_set_int; STRING keys take
 * cvg_options_set_string. cvg_options_set_string also accepts the text form
 * of any INT/DOUBLE key ("42", "0.2"; CVG_OPT_BACKEND also "auto|cpu|cuda").
 * Flags (FLAG) are INT keys taking 0 or 1.
 */
typedef struct cvg_options cvg_options;

#define CVG_OPT_BACKEND 1              /* INT  CVG_BACKEND_*, default AUTO (C) */
#define CVG_OPT_SEED 2                 /* INT  >= 0, default 0: MI row sampling, k-means (C, K) */
#define CVG_OPT_CHUNK_ROWS 3           /* INT  >= 1, default 16384: samples per streamed chunk (C) */
#define CVG_OPT_CHANNELS_LAST 4        /* FLAG default 0: conv layers are (N, H, W, C) (C) */
#define CVG_OPT_LAYERS 5               /* STRING "conv1,fc6", default "" = every layer (C) */
#define CVG_OPT_OVERWRITE 6            /* FLAG default 0: replace an existing non-empty out_dir (C) */
#define CVG_OPT_MATCHING 7             /* FLAG default 1: Sec. 3.1 correlation matching (C) */
#define CVG_OPT_MUTUAL_INFORMATION 8   /* FLAG default 1: Sec. 3.2 (C) */
#define CVG_OPT_SPARSE_PREDICTION 9    /* FLAG default 1: Sec. 4 lasso path (C) */
#define CVG_OPT_CLUSTERING 10          /* FLAG default 1: Sec. 4 spectral clustering (C) */
#define CVG_OPT_MEAN_ACTIVATION 11     /* FLAG default 1: sorted mean activations (C) */
#define CVG_OPT_MI_BINS 12             /* INT  [1, 254], default 20 percentile bins besides the zero bin (C, B) */
#define CVG_OPT_MI_SAMPLES 13          /* INT  >= 2, default 60000 sampled rows (C) */
#define CVG_OPT_MI_ZERO_THRESHOLD 14   /* DOUBLE finite, default 1e-6: upper end of the zero bin (B) */
#define CVG_OPT_LASSO_ALPHAS 15        /* STRING "0.3,0.1,0.01" (each > 0), default "" = library path (C, S) */
#define CVG_OPT_LASSO_TOL 16           /* DOUBLE > 0, default 1e-7: duality-gap tolerance (S) */
#define CVG_OPT_LASSO_MAX_ITER 17      /* INT  >= 1, default 10000 sweeps per alpha (S) */
#define CVG_OPT_LASSO_KEEP_WEIGHTS 18  /* FLAG default 0: keep the weight matrices (S); cvg_compare writes <layer>/<a>~<b>.lasso_weights.npy */
#define CVG_OPT_CLUSTER_TAU 19         /* DOUBLE >= 0, default 0.2: edge threshold, Sec. 4.1 (C, K) */
#define CVG_OPT_CLUSTER_ALPHA 20       /* DOUBLE > 0, default 0.025: leaf size, Sec. 4.3 (C, K) */
#define CVG_OPT_CLUSTER_K 21           /* INT  >= -1, default -1 = the paper's ratio (0.4 x units per net), 0 = eigengap suggestion; clamped to the live units (C, K) */
#define CVG_OPT_KMEANS_N_INIT 22       /* INT  >= 1, default 10 k-means++ restarts (K) */
#define CVG_OPT_CLUSTER_HIERARCHICAL 23 /* FLAG default 1: re-split big clusters, Sec. 4.3 (K) */
#define CVG_OPT_CLUSTER_SPLIT_K 24     /* INT  0 or >= 2, default 2 children per split (0 = by size) (K) */
#define CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES 25 /* INT >= 0, default 0 = max(2k, 64) (K) */
#define CVG_OPT_CLUSTER_NORMALIZE_ROWS 26 /* FLAG default 0: Ng-Jordan-Weiss rows (K) */
#define CVG_OPT_MAX_MEMORY_MB 27      /* INT  [0, 2^40], default 0 = 3/4 of physical memory: budget of one layer in cvg_compare, MiB (C) */
#define CVG_OPT_TIMINGS 28            /* FLAG default 0: "timings" stage breakdown in summary.json (C) */
#define CVG_OPT_STATISTICS_PRECISION 60 /* INT  0 = float64 products (default), 1 = float32 products (ssyrk, CPU backend; about 1.3x faster above 2,048 units in all nets, no faster below; correlation within 1e-6 of float64) (C) */
#define CVG_OPT_DEAD_UNITS 29         /* INT  0 = exclude (default), 1 = include with similarity 0 (the paper's code): dead units in cvg_compare's matchings and Table 1 means (C) */
#define CVG_OPT_SIMILARITY_INDICES 30 /* FLAG default 1: whole-layer CKA, debiased CKA, CCA, SVCCA, PWCCA, Procrustes (C) */
#define CVG_OPT_SVCCA_VARIANCE 31     /* DOUBLE (0, 1], default 0.99: variance kept by each SVCCA subspace (C, I) */
#define CVG_OPT_PROCRUSTES_ALPHA 32   /* DOUBLE [0, 1], default 1: netrep partial whitening, 1 = none (C, I) */
#define CVG_OPT_CCA_RIDGE 33          /* DOUBLE (0, 1], default 1e-6: relative ridge of ill-conditioned covariances (C, I) */
#define CVG_OPT_CROSS_LAYERS 40       /* FLAG default 0: layer x layer linear CKA maps across nets, cross_layers/<a>~<b>.cka.npy (C) */
#define CVG_OPT_CROSS_LAYERS_BATCH 41 /* INT  >= 4, default 256: images per minibatch of the cross-layer maps (C) */
#define CVG_OPT_TOP_PATCHES 50        /* FLAG default 1: each unit's top-k inputs, <layer>/<net>.topk.npy (C) */
#define CVG_OPT_TOP_K 51              /* INT  [1, 1024], default 9: inputs kept per unit (C) */
#define CVG_OPT_IMAGES 52             /* STRING the input images .npy: top-k patches as <layer>/<net>.patches.png (C) */
#define CVG_OPT_RECEPTIVE_FIELD 53    /* STRING conv layers' receptive fields, "conv1=5,1,2,conv2=14,2,5" (C) */
/* Resampling (docs/resampling.md): all off by default; recorded in each layer's "resampling" object. */
#define CVG_OPT_BOOTSTRAP 70          /* INT  [0, 1e6], default 0: bootstrap replicates over image blocks, percentile intervals (C) */
#define CVG_OPT_BOOTSTRAP_BLOCKS 71   /* INT  [2, 1e6], default 200: image blocks (capped at the images); memory blocks x units^2 float64 (C) */
#define CVG_OPT_CONFIDENCE 72         /* DOUBLE (0, 1], default 0.95: level of the bootstrap intervals (C) */
#define CVG_OPT_HOLDOUT 73            /* DOUBLE [0, 0.9], default 0: fraction of the blocks held out for scoring (C) */
#define CVG_OPT_PERMUTATIONS 74       /* INT  [0, 1e6], default 0: permutation-null replicates, one more pass each; files only (C) */
#define CVG_OPT_BASELINE_NETS 75      /* STRING reference nets (paths or NAME=PATH, comma-separated) compared after the nets (C) */

/* Creates an options object holding the defaults. Owned by the caller, freed
 * with cvg_options_destroy; it may be destroyed right after the call that
 * uses it. Errors: CVG_E_INVALID_ARG (out NULL). */
CVG_API int cvg_options_create(cvg_options **out);
/* Frees opts; NULL and non-live handles are ignored. */
CVG_API void cvg_options_destroy(cvg_options *opts);
/* Sets an INT key (or a DOUBLE key to an integer value).
 * Errors: CVG_E_INVALID_ARG (opts NULL/not live, unknown key, STRING key,
 * value out of range). */
CVG_API int cvg_options_set_int(cvg_options *opts, int32_t key, int64_t value);
/* Sets a DOUBLE key. Errors: CVG_E_INVALID_ARG (opts NULL/not live, unknown
 * key, INT or STRING key, NaN/Inf or out-of-range value). */
CVG_API int cvg_options_set_double(cvg_options *opts, int32_t key, double value);
/* Sets any key from text (copied; the caller keeps value). STRING keys:
 * comma-separated lists, spaces around items ignored, "" = default. Errors:
 * CVG_E_INVALID_ARG (opts NULL/not live, value NULL, unknown key, text that
 * does not parse or is out of range). */
CVG_API int cvg_options_set_string(cvg_options *opts, int32_t key, const char *value);
/* Reads an INT key. Errors: CVG_E_INVALID_ARG (opts NULL/not live, out NULL,
 * unknown key, not an INT key). */
CVG_API int cvg_options_get_int(const cvg_options *opts, int32_t key, int64_t *out);
/* Reads a DOUBLE key. Errors: CVG_E_INVALID_ARG (opts NULL/not live, out
 * NULL, unknown key, not a DOUBLE key). */
CVG_API int cvg_options_get_double(const cvg_options *opts, int32_t key, double *out);
/* Reads any key as text, NUL-terminated, into buf[capacity] (size query:
 * *length receives strlen of the text; buf may be NULL; buf too small for
 * *length + 1 bytes is CVG_E_INVALID_ARG). LASSO_ALPHAS are written with
 * 17 significant digits. Errors: CVG_E_INVALID_ARG (opts NULL/not live,
 * length NULL, unknown key, capacity too small). */
CVG_API int cvg_options_get_string(const cvg_options *opts, int32_t key, char *buf, int64_t capacity,
                                   int64_t *length);

/* ---- Streaming statistics (paper Sec. 2) --------------------------------
 * An accumulator for one layer of n_nets nets; net i has units[i] units.
 * Push batches of samples (the same samples for every net, in the same
 * order), then finalise and read mean, std and correlation blocks. A
 * finalised accumulator is also the input of sparse prediction, spectral
 * clustering and the mean-activation comparison below.
 */
typedef struct cvg_stats cvg_stats;

/* Creates an accumulator (freed with cvg_stats_destroy). units[n_nets] is
 * read during the call only. backend: CVG_BACKEND_*; the backend also runs
 * the eigensolves of cvg_spectral_clustering on this accumulator.
 * Errors: CVG_E_INVALID_ARG (out NULL, n_nets < 1, units NULL, a unit count
 * < 1, unknown backend), CVG_E_UNSUPPORTED (CVG_BACKEND_CUDA without a CUDA
 * build or device), CVG_E_DEVICE. */
CVG_API int cvg_stats_create(cvg_stats **out, int32_t n_nets, const int64_t *units, int32_t backend);
/* cvg_stats_create on the backend of ctx (pushes and the eigensolves of
 * cvg_spectral_clustering on this accumulator run there). The accumulator
 * keeps the backend alive; ctx may be destroyed first. Errors: as
 * cvg_stats_create, with ctx NULL/not live instead of an unknown backend. */
CVG_API int cvg_stats_create_ctx(cvg_stats **out, const cvg_context *ctx, int32_t n_nets,
                                 const int64_t *units);
/* Frees stats; NULL and non-live handles are ignored. */
CVG_API void cvg_stats_destroy(cvg_stats *stats);
/* Name of the backend that runs ("cpu" or "cuda"); static storage. "" for
 * NULL or a non-live handle (not an error code: this function cannot fail). */
CVG_API const char *cvg_stats_backend(const cvg_stats *stats);
/* Number of nets / units of net `net`. Errors: CVG_E_INVALID_ARG (stats
 * NULL/not live, out NULL, net out of range). */
CVG_API int cvg_stats_nets(const cvg_stats *stats, int32_t *out);
CVG_API int cvg_stats_units(const cvg_stats *stats, int32_t net, int64_t *out);

/* Pushes `rows` samples of net `net`: a rows x units[net] float matrix with
 * leading dimension ld in the given layout. Every net must be pushed the same
 * number of rows before the next batch of any net is completed: batches are
 * merged once all nets have pushed them. rows == 0 is a no-op.
 * Errors: CVG_E_INVALID_ARG (stats NULL/not live, net out of range, data
 * NULL, rows < 0, bad ld/layout, net already pushed in this batch, a row
 * count different from the batch's), CVG_E_BAD_DATA (NaN/Inf; the batch
 * keeps the rows pushed before), CVG_E_DEVICE. */
CVG_API int cvg_stats_push(cvg_stats *stats, int32_t net, const float *data, int64_t rows,
                           int64_t ld, int32_t layout);
/* ---- Zero-copy input: DLPack ------------------------------------------------
 * A DLManagedTensor (dlpack/dlpack.h, DLPack 0.6 or later; e.g. from
 * torch.utils.dlpack.to_dlpack, numpy's __dlpack__, DLPack.jl) is read in
 * place: no copy of the tensor is made, on the host or the device. The call
 * takes ownership: it calls tensor->deleter exactly once, when the tensor is
 * no longer needed (right away on an error, otherwise once the batch it
 * belongs to is merged, i.e. after the last net's push of that batch; at
 * cvg_*_destroy for a batch never completed). Accepted: float16, float32,
 * float64 (one lane), any strides >= 0, on the host (kDLCPU, kDLCUDAHost) or,
 * with the CUDA backend, on the device (kDLCUDA: read by the device, never
 * copied to the host; with another backend it is CVG_E_UNSUPPORTED, never a
 * silent copy). Shapes: (rows, units) or a conv layer's (B, C, H, W), or
 * (B, H, W, C) with channels_last != 0, whose B * H * W positions are the
 * samples (paper Sec. 2, footnote 3). */
struct DLManagedTensor;
#define CVG_CHANNELS_FIRST 0 /* (B, C, H, W) */
#define CVG_CHANNELS_LAST 1  /* (B, H, W, C) */
/* cvg_stats_push for a DLPack tensor of net `net` (its units must equal
 * units[net]). Values are checked for NaN/Inf during the call (the tensor is
 * read, not copied) so a rejected batch leaves stats as it was. A batch whose
 * nets were all pushed through DLPack is merged straight from the tensors;
 * one that mixes cvg_stats_push and DLPack copies the DLPack rows once.
 * Errors: as cvg_stats_push, plus CVG_E_UNSUPPORTED (dtype, device, a CUDA
 * tensor without the CUDA backend) and CVG_E_INVALID_ARG (tensor NULL, rank
 * not 2 or 4, negative strides, a CUDA tensor mixed with host tensors). */
CVG_API int cvg_stats_push_dlpack(cvg_stats *stats, int32_t net, struct DLManagedTensor *tensor,
                                  int32_t channels_last);
/* Merges another accumulator with the same unit counts into stats (e.g. from
 * another process). Both must have no partially pushed batch.
 * Errors: CVG_E_INVALID_ARG (a handle NULL/not live, stats == other,
 * different unit counts, a partially pushed batch). */
CVG_API int cvg_stats_merge(cvg_stats *stats, const cvg_stats *other);
/* Finalises: computes mean/std/correlation. Further pushes are allowed and
 * require another finalise. Errors: CVG_E_INVALID_ARG (stats NULL/not live,
 * a partially pushed batch, no samples pushed). One sample gives zero std
 * and every unit dead. */
CVG_API int cvg_stats_finalize(cvg_stats *stats);

/* Samples accumulated so far. Errors: CVG_E_INVALID_ARG (stats NULL/not
 * live, out NULL). */
CVG_API int cvg_stats_samples(const cvg_stats *stats, int64_t *out);
/* Reads the mean / population std of net `net` into out[capacity]; writes
 * units[net] values. Errors: CVG_E_INVALID_ARG (stats NULL/not live, net out
 * of range, out NULL, capacity < units[net] (then nothing is written), not
 * finalised since the last push/merge). */
CVG_API int cvg_stats_mean_n(const cvg_stats *stats, int32_t net, double *out, int64_t capacity);
CVG_API int cvg_stats_std_n(const cvg_stats *stats, int32_t net, double *out, int64_t capacity);
/* Deprecated, unsafe: as cvg_stats_mean_n / cvg_stats_std_n without a
 * capacity, so an out shorter than units[net] is overrun. Kept for ABI
 * stability; new code should call the _n variants. */
CVG_API int cvg_stats_mean(const cvg_stats *stats, int32_t net, double *out);
CVG_API int cvg_stats_std(const cvg_stats *stats, int32_t net, double *out);
/* Reads the correlation block (net_a, net_b): units[net_a] x units[net_b],
 * written with leading dimension ld in the given layout. net_a == net_b is
 * the within-net matrix. Dead units (zero variance) have correlation 0.
 * Errors: CVG_E_INVALID_ARG (stats NULL/not live, a net out of range, out
 * NULL, bad ld/layout, not finalised). */
CVG_API int cvg_stats_correlation(const cvg_stats *stats, int32_t net_a, int32_t net_b, double *out,
                                  int64_t ld, int32_t layout);
/* Dead units (zero variance) of net `net`, ascending; size query + fill:
 * *count receives their number; with out == NULL that is all; otherwise
 * capacity < *count is CVG_E_INVALID_ARG and nothing is written. Errors:
 * CVG_E_INVALID_ARG (stats NULL/not live, net out of range, count NULL,
 * capacity too small, not finalised). */
CVG_API int cvg_stats_dead_units_n(const cvg_stats *stats, int32_t net, int64_t *count, int64_t *out,
                                   int64_t capacity);
/* Deprecated, unsafe: cvg_stats_dead_units_n without a capacity (out, when
 * not NULL, must hold *count elements or is overrun). Kept for ABI
 * stability. */
CVG_API int cvg_stats_dead_units(const cvg_stats *stats, int32_t net, int64_t *count, int64_t *out);

/* Serialises the accumulated moments to / from a file (written to a
 * temporary sibling, then renamed; nothing is left behind on failure). cvg_stats_load creates a new handle. Errors:
 * CVG_E_INVALID_ARG (out/stats NULL or not live, path NULL, a partially
 * pushed batch, unknown backend), CVG_E_IO (cannot open/write/rename),
 * CVG_E_BAD_DATA (not an accumulator file, truncated), CVG_E_UNSUPPORTED
 * (load with CVG_BACKEND_CUDA without a device). */
CVG_API int cvg_stats_save(const cvg_stats *stats, const char *path);
CVG_API int cvg_stats_load(cvg_stats **out, const char *path, int32_t backend);
/* cvg_stats_load on the backend of ctx. Errors: as cvg_stats_load, with ctx
 * NULL/not live instead of an unknown backend or a missing device. */
CVG_API int cvg_stats_load_ctx(cvg_stats **out, const cvg_context *ctx, const char *path);

/* ---- Top-k inputs (paper Figs. 2, 4, 5, 6, 7, 12) ------------------------
 * Each unit's k highest inputs, gathered with the pushes, for the image
 * patches that show what a unit responds to. Enable before the first push:
 * k in 1..1024; positions = H * W of a conv layer's map (every push is then
 * whole images: rows image * positions + position, or a rank-4 DLPack tensor
 * whose H * W equals positions), 1 for a dense layer. A conv unit's response
 * to an image is its maximum over positions (the first position on ties), so
 * an image appears at most once per unit. Images are numbered in push order
 * from first_image: 0 for one process; in a run split over processes, the
 * first image of this process's slice, so that cvg_stats_merge of the
 * processes' accumulators gives the top k of all images (the same as one
 * process pushing them all, whatever the batching: higher value first, the
 * lower image index on ties). cvg_stats_save/load keep the top-k lists.
 * Errors: CVG_E_INVALID_ARG (stats NULL/not live, k or positions out of
 * range, first_image < 0, already enabled, samples already pushed or a
 * batch pending). With top-k on, cvg_stats_push / _push_dlpack also fail
 * with CVG_E_INVALID_ARG when rows is not a multiple of positions (or a
 * rank-4 tensor's H * W differs) and CVG_E_UNSUPPORTED for CUDA tensors
 * (the lists are gathered on the host); cvg_stats_merge fails with
 * CVG_E_INVALID_ARG when only one side has top-k, their k/positions differ
 * or their image ranges overlap. */
CVG_API int cvg_stats_enable_top_k(cvg_stats *stats, int64_t k, int64_t positions, int64_t first_image);
/* Reads net `net`'s lists: units[net] x k row-major, best first, into
 * images (image indices; -1 beyond the images seen), positions (the
 * position of the maximum within the image, 0 for dense; may be NULL) and
 * values (the activation; NaN beyond the images seen; may be NULL), each
 * holding capacity >= units[net] * k elements. Errors: CVG_E_INVALID_ARG
 * (stats NULL/not live, net out of range, top-k not enabled, a batch
 * pending, images NULL, capacity too small: nothing is written). */
CVG_API int cvg_stats_top_k(const cvg_stats *stats, int32_t net, int64_t *images, int64_t *positions, float *values,
                            int64_t capacity);

/* ---- Matching (paper Sec. 3.1, Table 1, Fig. 3) --------------------------
 * On a caller similarity matrix (correlation, mutual information, ...) with
 * rows = units of net a, cols = units of net b. NaN/Inf entries fail with
 * CVG_E_BAD_DATA. Outputs marked (optional) may be NULL.
 */

/* Semi-matching: per row the column of maximum similarity (ties -> lowest
 * column). column[rows] (required), value[rows] (optional), mean = Table 1
 * column 1 (optional). Errors: CVG_E_INVALID_ARG (similarity NULL, negative
 * size, rows > 0 with cols == 0, bad ld/layout, column NULL),
 * CVG_E_BAD_DATA. */
CVG_API int cvg_semi_matching(const double *similarity, int64_t rows, int64_t cols, int64_t ld,
                              int32_t layout, int64_t *column, double *value, double *mean);

/* Maximum-weight one-to-one matching (exact, certified by LP duality; the
 * semantics of scipy.optimize.linear_sum_assignment(maximize=True)):
 * min(rows, cols) pairs; rows > cols leaves rows - cols rows unmatched with
 * column -1 and value NaN. column[rows] (required), value[rows] (optional),
 * mean over matched rows = Table 1 column 2 (optional), certificate
 * (optional each): primal = sum of matched weights, dual_bound >= optimum,
 * gap = dual_bound - primal (~0). backend: CVG_BACKEND_*.
 * Errors: CVG_E_INVALID_ARG (as cvg_semi_matching, unknown backend),
 * CVG_E_BAD_DATA, CVG_E_UNSUPPORTED (CVG_BACKEND_CUDA without a device),
 * CVG_E_DEVICE. */
CVG_API int cvg_max_weight_matching(const double *similarity, int64_t rows, int64_t cols, int64_t ld,
                                    int32_t layout, int32_t backend, int64_t *column, double *value,
                                    double *mean, double *primal, double *dual_bound, double *gap);
/* cvg_max_weight_matching on the backend of ctx. Errors: as
 * cvg_max_weight_matching, with ctx NULL/not live instead of an unknown or
 * unavailable backend. */
CVG_API int cvg_max_weight_matching_ctx(const cvg_context *ctx, const double *similarity, int64_t rows,
                                        int64_t cols, int64_t ld, int32_t layout, int64_t *column,
                                        double *value, double *mean, double *primal, double *dual_bound,
                                        double *gap);

/* Everything Sec. 3.1 derives from one matrix, every output optional:
 * semi_column[rows], matching_column[rows], overlap_ratio (Table 1 column 3:
 * fraction of rows with semi == matching), fig3_order[rows] (rows by
 * decreasing semi-matching value, Fig. 3), matched_order[cols] (Fig. 1d
 * column permutation: columns matched to rows 0, 1, ... first, then the
 * unmatched ones ascending). Errors: as cvg_max_weight_matching (column is
 * not required here). */
CVG_API int cvg_align(const double *similarity, int64_t rows, int64_t cols, int64_t ld, int32_t layout,
                      int32_t backend, int64_t *semi_column, int64_t *matching_column,
                      double *overlap_ratio, int64_t *fig3_order, int64_t *matched_order);
/* cvg_align on the backend of ctx (errors: as cvg_max_weight_matching_ctx). */
CVG_API int cvg_align_ctx(const cvg_context *ctx, const double *similarity, int64_t rows, int64_t cols,
                          int64_t ld, int32_t layout, int64_t *semi_column, int64_t *matching_column,
                          double *overlap_ratio, int64_t *fig3_order, int64_t *matched_order);

/* Table 1 of one net pair straight from finalised statistics, with the same
 * conventions as cvg_compare: dead units excluded from the matchings and the
 * means, or included with correlation 0 when opts has CVG_OPT_DEAD_UNITS = 1
 * (the paper's own code). Runs on the backend of stats. Outputs: the mean
 * semi-matching and max-weight matching correlation and the overlap ratio
 * (NaN where no unit is live); any may be NULL. Errors: CVG_E_INVALID_ARG
 * (stats not live or not finalised, net out of range, net_a == net_b, opts
 * not live). */
CVG_API int cvg_table1(const cvg_stats *stats, int32_t net_a, int32_t net_b, const cvg_options *opts,
                       double *semi_matching_mean, double *matching_mean, double *overlap_ratio);

/* ---- Mutual information (paper Sec. 3.2, footnote 6) ----------------------
 * Bin each unit's values (one zero bin (-inf, 1e-6] + CVG_OPT_MI_BINS
 * equal-mass percentile bins, numpy.quantile edges), then the plug-in MI
 * (nats) of every unit pair from exact joint-histogram counts.
 */
typedef struct cvg_binned cvg_binned;

/* count sorted distinct row indices in [0, total_rows), drawn uniformly
 * without replacement (seed as uint64, std::mt19937_64; the same on every
 * platform): the rows the pipeline uses for MI. Writes min(count,
 * total_rows) indices into out. Errors: CVG_E_INVALID_ARG (negative
 * total_rows or count, out NULL when something is to be written). */
CVG_API int cvg_sample_rows(int64_t total_rows, int64_t count, int64_t seed, int64_t *out);

/* Bins the units of one net: values is a samples x units float matrix (ld,
 * layout). Reads CVG_OPT_MI_BINS and CVG_OPT_MI_ZERO_THRESHOLD from opts
 * (NULL = defaults). The handle copies what it needs; values may be freed
 * after the call. Errors: CVG_E_INVALID_ARG (out NULL, opts not live, values
 * NULL, samples < 1 or >= 2^31, units < 1, bad ld/layout),
 * CVG_E_BAD_DATA (NaN/Inf). */
CVG_API int cvg_bin_units(cvg_binned **out, const float *values, int64_t samples, int64_t units,
                          int64_t ld, int32_t layout, const cvg_options *opts);
/* Frees binned; NULL and non-live handles are ignored. */
CVG_API void cvg_binned_destroy(cvg_binned *binned);
/* Shape (each output optional): units, samples, bins = total number of
 * codes (CVG_OPT_MI_BINS + 1). Errors: CVG_E_INVALID_ARG (binned NULL/not
 * live). */
CVG_API int cvg_binned_shape(const cvg_binned *binned, int64_t *units, int64_t *samples, int32_t *bins);
/* The codes as a samples x units int32 matrix (ld, layout), each in
 * [0, bins). Errors: CVG_E_INVALID_ARG (binned NULL/not live, out NULL, bad
 * ld/layout). */
CVG_API int cvg_binned_codes(const cvg_binned *binned, int32_t *out, int64_t ld, int32_t layout);
/* Interior percentile edges of unit `unit` (ascending; CVG_OPT_MI_BINS - 1
 * of them, 0 for a unit without values above the zero threshold); size
 * query + fill. Errors: CVG_E_INVALID_ARG (binned NULL/not live, unit out
 * of range, count NULL, capacity too small). */
CVG_API int cvg_binned_edges(const cvg_binned *binned, int64_t unit, int64_t *count, double *out,
                             int64_t capacity);
/* The a.units x b.units MI matrix (nats) into out (ld, layout). Pass the
 * same handle twice for the within-net matrix. Errors: CVG_E_INVALID_ARG
 * (a handle NULL/not live, different sample or bin counts, out NULL, bad
 * ld/layout, unknown backend), CVG_E_UNSUPPORTED, CVG_E_DEVICE. */
CVG_API int cvg_mutual_information(const cvg_binned *a, const cvg_binned *b, int32_t backend,
                                   double *out, int64_t ld, int32_t layout);
/* cvg_mutual_information on the backend of ctx. Errors: as
 * cvg_mutual_information, with ctx NULL/not live instead of an unknown or
 * unavailable backend. */
CVG_API int cvg_mutual_information_ctx(const cvg_context *ctx, const cvg_binned *a, const cvg_binned *b,
                                       double *out, int64_t ld, int32_t layout);

/* ---- Sparse prediction (paper Sec. 4, L1 / lasso path) -------------------
 * Every unit of target_net predicted from all units of predictor_net by an
 * L1-regularised linear map on standardised data, solved on the correlations
 * of a finalised cvg_stats (no second data pass). loss = 0.5 * mean squared
 * error on the standardised target (predicting nothing = 0.5); the minimiser
 * is sklearn.linear_model.Lasso's on standardised data.
 */
typedef struct cvg_sparse cvg_sparse;

/* Runs the lasso path (CVG_OPT_LASSO_ALPHAS, _TOL, _MAX_ITER, _KEEP_WEIGHTS
 * from opts; NULL = defaults). The result does not refer to stats.
 * Errors: CVG_E_INVALID_ARG (out NULL, stats/opts NULL or not live, a net
 * out of range, target_net == predictor_net, stats not finalised). */
CVG_API int cvg_sparse_prediction(cvg_sparse **out, const cvg_stats *stats, int32_t target_net,
                                  int32_t predictor_net, const cvg_options *opts);
/* Frees sparse; NULL and non-live handles are ignored. */
CVG_API void cvg_sparse_destroy(cvg_sparse *sparse);
/* Shape (each output optional): number of alphas, target units, predictor
 * units. Errors: CVG_E_INVALID_ARG (sparse NULL/not live). */
CVG_API int cvg_sparse_shape(const cvg_sparse *sparse, int64_t *n_alphas, int64_t *targets,
                             int64_t *predictors);
/* Per-alpha vectors, out[n_alphas]: the alphas (path order), the mean loss
 * and mean non-zero weights over live targets (NaN if none), the largest
 * final duality gap, and converged (1 when every target reached the
 * tolerance). Errors: CVG_E_INVALID_ARG (sparse NULL/not live, out NULL). */
CVG_API int cvg_sparse_alphas(const cvg_sparse *sparse, double *out);
CVG_API int cvg_sparse_mean_loss(const cvg_sparse *sparse, double *out);
CVG_API int cvg_sparse_mean_nonzero(const cvg_sparse *sparse, double *out);
CVG_API int cvg_sparse_max_duality_gap(const cvg_sparse *sparse, double *out);
CVG_API int cvg_sparse_converged(const cvg_sparse *sparse, int32_t *out);
/* n_alphas x targets matrices (ld, layout): loss per alpha and target unit
 * (NaN for dead targets), number of non-zero weights (0 for dead targets).
 * Errors: CVG_E_INVALID_ARG (sparse NULL/not live, out NULL, bad ld/layout). */
CVG_API int cvg_sparse_loss(const cvg_sparse *sparse, double *out, int64_t ld, int32_t layout);
CVG_API int cvg_sparse_nonzero(const cvg_sparse *sparse, int64_t *out, int64_t ld, int32_t layout);
/* The targets x predictors weight matrix of alpha number alpha_index (ld,
 * layout). Only with CVG_OPT_LASSO_KEEP_WEIGHTS = 1. Errors:
 * CVG_E_INVALID_ARG (sparse NULL/not live, alpha_index out of range, out
 * NULL, bad ld/layout, weights not kept). */
CVG_API int cvg_sparse_weights(const cvg_sparse *sparse, int64_t alpha_index, double *out, int64_t ld,
                               int32_t layout);

/* ---- Whole-layer similarity indices ------------------------------------------
 * Two nets' layers compared as wholes, beside the unit matching of Sec. 3.1
 * (docs/summary_schema.md "similarity_indices" gives every formula and
 * source): linear CKA, debiased linear CKA (unbiased HSIC), the mean of the
 * canonical correlations (CCA), SVCCA, PWCCA and orthogonal Procrustes
 * distances with netrep's partial whitening. Reads CVG_OPT_SVCCA_VARIANCE,
 * CVG_OPT_PROCRUSTES_ALPHA and CVG_OPT_CCA_RIDGE from opts (NULL =
 * defaults). Units with zero variance are dead: left out of the CCA family
 * and the whitening (dead_a, dead_b). A covariance whose smallest eigenvalue
 * is below CVG_OPT_CCA_RIDGE x its mean eigenvalue (fewer samples than
 * units...) gets that ridge (ridge_a, ridge_b > 0, warnings counts it).
 * Undefined indices (a net without variance) are NaN.
 */
typedef struct cvg_similarity_result {
    int64_t units_a, units_b, samples;
    int64_t dead_a, dead_b;             /* excluded from CCA, SVCCA, PWCCA and the whitening */
    int64_t svcca_dims_a, svcca_dims_b; /* dimensions each SVCCA subspace keeps */
    int64_t warnings;                   /* number of warnings (ridge added, no live units) */
    double cka;                         /* linear CKA (Kornblith et al. 2019) */
    double cka_debiased;                /* NaN from covariances (needs per-sample terms): use _data */
    double cca_mean;                    /* mean canonical correlation */
    double svcca_mean;                  /* Raghu et al. 2017 */
    double pwcca;                       /* Morcos et al. 2018, weights of net a's canonical variates */
    double pwcca_reverse;               /* ... of net b's */
    double pwcca_symmetric;             /* their mean */
    double procrustes_euclidean;        /* per sample: sqrt(tr Sa + tr Sb - 2 ||Sab||_*) after whitening */
    double procrustes_angular;          /* arccos(||Sab||_* / sqrt(tr Sa tr Sb)) after whitening */
    double ridge_a, ridge_b;            /* ridge added to each covariance (0: none) */
} cvg_similarity_result;

/* From population covariance blocks (divided by samples): cov_aa units_a x
 * units_a, cov_bb units_b x units_b, cov_ab units_a x units_b, each with its
 * leading dimension, all in `layout`. canonical_correlations, when not NULL,
 * receives min(units_a, units_b) values: the canonical correlations
 * (decreasing), NaN past the live units. Debiased CKA needs per-sample sums
 * and is NaN here. Errors: CVG_E_INVALID_ARG (out NULL, sizes, samples < 2,
 * bad ld/layout, asymmetric within-net blocks, options), CVG_E_BAD_DATA
 * (NaN/Inf). */
CVG_API int cvg_similarity_indices(cvg_similarity_result *out, const double *cov_aa, int64_t ld_aa,
                                   const double *cov_bb, int64_t ld_bb, const double *cov_ab, int64_t ld_ab,
                                   int32_t layout, int64_t units_a, int64_t units_b, int64_t samples,
                                   const cvg_options *opts, double *canonical_correlations);
/* From data in memory: x samples x units_a, y samples x units_b (one sample
 * per row; conv layers: one row per image position), float64, in `layout`;
 * every index including debiased CKA. Errors: as cvg_similarity_indices
 * (CVG_E_BAD_DATA for NaN/Inf in x or y). */
CVG_API int cvg_similarity_indices_data(cvg_similarity_result *out, const double *x, int64_t ldx,
                                        const double *y, int64_t ldy, int32_t layout, int64_t samples,
                                        int64_t units_a, int64_t units_b, const cvg_options *opts,
                                        double *canonical_correlations);

/* ---- Spectral clustering (paper Sec. 4, 6.4-6.6) ---------------------------
 * Many-to-many alignment of nets net_a and net_b of a finalised cvg_stats:
 * the thresholded combined correlation graph, the smallest eigenvectors of
 * its Laplacian (on the stats' backend), seeded k-means++, hierarchical
 * re-splitting. The result is a tree of clusters with ids 0..n-1; units are
 * local indices within their net (side 0 = net_a, side 1 = net_b).
 */
typedef struct cvg_clustering cvg_clustering;

/* Reads CVG_OPT_CLUSTER_*, CVG_OPT_KMEANS_N_INIT and CVG_OPT_SEED from opts
 * (NULL = defaults). The result does not refer to stats. Errors:
 * CVG_E_INVALID_ARG (out NULL, stats/opts NULL or not live, a net out of
 * range, net_a == net_b, stats not finalised), CVG_E_DEVICE. */
CVG_API int cvg_spectral_clustering(cvg_clustering **out, const cvg_stats *stats, int32_t net_a,
                                    int32_t net_b, const cvg_options *opts);
/* cvg_spectral_clustering with the eigensolves on the backend of ctx instead
 * of the stats' backend. Errors: as cvg_spectral_clustering, plus
 * CVG_E_INVALID_ARG for ctx NULL/not live. */
CVG_API int cvg_spectral_clustering_ctx(cvg_clustering **out, const cvg_context *ctx, const cvg_stats *stats,
                                        int32_t net_a, int32_t net_b, const cvg_options *opts);
/* Frees clustering; NULL and non-live handles are ignored. */
CVG_API void cvg_clustering_destroy(cvg_clustering *clustering);
/* Number of clusters (tree nodes) / first-level k and the eigengap
 * suggestion. Errors: CVG_E_INVALID_ARG (clustering NULL/not live, an
 * output NULL). */
CVG_API int cvg_clustering_count(const cvg_clustering *clustering, int64_t *n_clusters);
CVG_API int cvg_clustering_k(const cvg_clustering *clustering, int64_t *k, int64_t *k_eigengap);
/* One tree node (each output optional): parent id (-1 at the first level),
 * depth, leaf (1/0), Sec. 6.6 between-net and within-net similarity.
 * Errors: CVG_E_INVALID_ARG (clustering NULL/not live, id out of range). */
CVG_API int cvg_clustering_node(const cvg_clustering *clustering, int64_t id, int64_t *parent,
                                int32_t *depth, int32_t *leaf, double *between_net_similarity,
                                double *within_net_similarity);
/* Size query + fill. members: units of side 0 (net_a) or 1 (net_b) in
 * cluster id, ascending. children: child ids of cluster id. Errors:
 * CVG_E_INVALID_ARG (clustering NULL/not live, id out of range, side not
 * 0/1, count NULL, capacity too small). */
CVG_API int cvg_clustering_members(const cvg_clustering *clustering, int64_t id, int32_t side,
                                   int64_t *count, int64_t *out, int64_t capacity);
CVG_API int cvg_clustering_children(const cvg_clustering *clustering, int64_t id, int64_t *count,
                                    int64_t *out, int64_t capacity);
/* Size query + fill: the smallest eigenvalues of L = D - W (ascending);
 * leaf ids by decreasing between-net similarity (Fig. 14) and the between /
 * within similarities in that order (count = number of leaves; either
 * array may be NULL); the permutation of the units_a + units_b combined
 * units (net_a: 0..units_a-1, net_b: units_a..) giving the block-diagonal
 * Fig. 13. Errors: CVG_E_INVALID_ARG (clustering NULL/not live, count NULL,
 * capacity too small). */
CVG_API int cvg_clustering_eigenvalues(const cvg_clustering *clustering, int64_t *count, double *out,
                                       int64_t capacity);
CVG_API int cvg_clustering_leaves(const cvg_clustering *clustering, int64_t *count, int64_t *out,
                                  int64_t capacity);
CVG_API int cvg_clustering_similarities(const cvg_clustering *clustering, int64_t *count,
                                        double *between, double *within, int64_t capacity);
CVG_API int cvg_clustering_permutation(const cvg_clustering *clustering, int64_t *count, int64_t *out,
                                       int64_t capacity);

/* ---- Mean activation (abstract, finding 3) --------------------------------
 * On a finalised cvg_stats. Errors of all three: CVG_E_INVALID_ARG (stats
 * NULL/not live, a net out of range, an output NULL, not finalised).
 */
/* The unit means of net `net` sorted decreasing, out[units[net]]; its
 * within-net spread (population std of the unit means) into *spread
 * (optional, may be NULL). */
CVG_API int cvg_mean_activation_sorted(const cvg_stats *stats, int32_t net, double *out, double *spread);
/* RMS difference of the sorted mean curves of two nets (quantile-
 * interpolated when the widths differ); 0 for net_a == net_b. */
CVG_API int cvg_mean_activation_distance(const cvg_stats *stats, int32_t net_a, int32_t net_b,
                                         double *distance);
/* Mean between-net distance over all net pairs / mean within-net spread;
 * NaN with fewer than two nets or zero spread. */
CVG_API int cvg_mean_activation_ratio(const cvg_stats *stats, double *ratio);

/* ---- Result export: the whole pipeline -------------------------------------
 * Runs `convergent compare`: per layer one streaming pass over every net
 * (inputs[i]: a directory of <layer>.npy files or an .npz archive; the net
 * name is the basename), then every analysis enabled in opts (NULL =
 * defaults), written atomically to out_dir (summary.json + per-layer .npy,
 * docs/summary_schema.md). On error nothing is left behind.
 * Errors: CVG_E_INVALID_ARG (inputs NULL, n_inputs < 2, an input NULL,
 * out_dir NULL or "", opts not live, two inputs with the same name),
 * CVG_E_IO (an input missing, out_dir exists and is not empty without
 * CVG_OPT_OVERWRITE, not writable), CVG_E_BAD_DATA (NaN/Inf, inconsistent
 * layers or shapes, missing layer), CVG_E_UNSUPPORTED (CUDA backend without
 * a device), CVG_E_DEVICE. */
CVG_API int cvg_compare(const char *const *inputs, int32_t n_inputs, const char *out_dir,
                        const cvg_options *opts);

/* ---- The whole pipeline, fed batch by batch ---------------------------------
 * cvg_compare on activations pushed in process (e.g. from forward hooks):
 * nothing but the moments, the Sec. 3.2 sample and the batch being
 * assembled is kept. Every net pushes the same inputs in the same batches
 * for each layer; a layer's batch is processed once every net pushed it.
 * `images` is the total number of inputs when known (then the Sec. 3.2
 * sample rows are those cvg_compare draws from files, so the figures agree
 * up to rounding), or 0 (a seeded reservoir sample of the same size). The
 * options' CVG_OPT_CHANNELS_LAST gives the layout of 4-D batches. */
typedef struct cvg_session cvg_session;
/* net_names[n_nets] (n_nets >= 2, unique) are copied. opts NULL = defaults.
 * Errors: CVG_E_INVALID_ARG (out NULL, bad names, images < 0, opts not
 * live), CVG_E_UNSUPPORTED (CVG_BACKEND_CUDA without a device). */
CVG_API int cvg_session_create(cvg_session **out, const char *const *net_names, int32_t n_nets,
                               const cvg_options *opts, int64_t images);
/* Frees the session (calls the deleters of tensors of unfinished batches). */
CVG_API void cvg_session_destroy(cvg_session *session);
/* Pushes one batch of layer `layer` of net `net` (see the DLPack section
 * above for ownership and what is accepted). Errors: CVG_E_INVALID_ARG (a
 * NULL argument, net out of range, the net already pushed this batch, a
 * push after an earlier failed one or after finish), CVG_E_BAD_DATA (a bad
 * layer name, a batch size, unit count or spatial size that disagrees with
 * the other nets or the layer's earlier batches, NaN/Inf), CVG_E_UNSUPPORTED. */
CVG_API int cvg_session_push_dlpack(cvg_session *session, int32_t net, const char *layer,
                                    struct DLManagedTensor *tensor);
/* The same for a C-contiguous float32 array of the given shape (rank 2 or
 * 4); `data` must stay valid until every net has pushed this batch (it is
 * read then, not copied). */
CVG_API int cvg_session_push(cvg_session *session, int32_t net, const char *layer, const float *data,
                             int32_t rank, const int64_t *shape);
/* Runs every analysis on every pushed layer and writes out_dir like
 * cvg_compare (atomically; CVG_OPT_OVERWRITE). The session takes no pushes
 * afterwards. Errors: CVG_E_INVALID_ARG (an incomplete batch, nothing
 * pushed, finish called twice), CVG_E_BAD_DATA (a layer got a number of
 * inputs other than `images`), CVG_E_IO, CVG_E_DEVICE. */
CVG_API int cvg_session_finish(cvg_session *session, const char *out_dir);

#ifdef __cplusplus
}
#endif

#endif /* CONVERGENT_H */
