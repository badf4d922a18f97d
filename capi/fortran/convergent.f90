! convergent -- Fortran 2018 interface to the C ABI (capi/include/convergent.h)
! through ISO_C_BINDING (2018 for OPTIONAL arguments of BIND(C) interfaces;
! gfortran -std=f2018 accepts it, -std=f2008 does not). Compile this file with your program and link
! libconvergent (-lconvergent, or target convergent::convergent in CMake).
!
! Conventions (see convergent.h for ownership, thread safety and the error
! codes of every function):
!  - every fallible function returns integer(c_int): CVG_OK or a CVG_E_*;
!    cvg_error_message() gives the message of the last failure on this thread;
!  - handles are type(c_ptr); cvg_X_create/cvg_bin_units/... take the handle
!    variable itself (C: cvg_X **out), everything else takes it by value;
!  - Fortran arrays are column-major: pass layout = CVG_COL_MAJOR and
!    ld = size(array, 1) (no copies);
!  - strings passed in must end with c_null_char: trim(s) // c_null_char;
!  - pointer arguments C allows to be NULL are OPTIONAL here (omit them);
!  - indices returned (units, columns, cluster ids) are 0-based as in C.
module convergent
  use, intrinsic :: iso_c_binding
  implicit none
  private :: c_strlen

  integer(c_int), parameter :: CVG_OK = 0, CVG_E_INVALID_ARG = -1, CVG_E_IO = -2, &
       CVG_E_UNSUPPORTED = -3, CVG_E_OUT_OF_MEMORY = -4, CVG_E_DEVICE = -5, CVG_E_BAD_DATA = -6, &
       CVG_E_INTERNAL = -7
  integer(c_int32_t), parameter :: CVG_ROW_MAJOR = 0, CVG_COL_MAJOR = 1
  integer(c_int32_t), parameter :: CVG_BACKEND_AUTO = 0, CVG_BACKEND_CPU = 1, CVG_BACKEND_CUDA = 2
  integer(c_int32_t), parameter :: CVG_FEATURE_CUDA = 1
  integer(c_int32_t), parameter :: CVG_FEATURE_MPI = 2
  integer(c_int32_t), parameter :: CVG_OPT_BACKEND = 1, CVG_OPT_SEED = 2, CVG_OPT_CHUNK_ROWS = 3, &
       CVG_OPT_CHANNELS_LAST = 4, CVG_OPT_LAYERS = 5, CVG_OPT_OVERWRITE = 6, CVG_OPT_MATCHING = 7, &
       CVG_OPT_MUTUAL_INFORMATION = 8, CVG_OPT_SPARSE_PREDICTION = 9, CVG_OPT_CLUSTERING = 10, &
       CVG_OPT_MEAN_ACTIVATION = 11, CVG_OPT_MI_BINS = 12, CVG_OPT_MI_SAMPLES = 13, &
       CVG_OPT_MI_ZERO_THRESHOLD = 14, CVG_OPT_LASSO_ALPHAS = 15, CVG_OPT_LASSO_TOL = 16, &
       CVG_OPT_LASSO_MAX_ITER = 17, CVG_OPT_LASSO_KEEP_WEIGHTS = 18, CVG_OPT_CLUSTER_TAU = 19, &
       CVG_OPT_CLUSTER_ALPHA = 20, CVG_OPT_CLUSTER_K = 21, CVG_OPT_KMEANS_N_INIT = 22, &
       CVG_OPT_CLUSTER_HIERARCHICAL = 23, CVG_OPT_CLUSTER_SPLIT_K = 24, &
       CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES = 25, CVG_OPT_CLUSTER_NORMALIZE_ROWS = 26, &
       CVG_OPT_MAX_MEMORY_MB = 27, CVG_OPT_TIMINGS = 28, CVG_OPT_DEAD_UNITS = 29, &
       CVG_OPT_STATISTICS_PRECISION = 60, &
       CVG_OPT_SIMILARITY_INDICES = 30, CVG_OPT_SVCCA_VARIANCE = 31, CVG_OPT_PROCRUSTES_ALPHA = 32, &
       CVG_OPT_CCA_RIDGE = 33, &
       CVG_OPT_CROSS_LAYERS = 40, CVG_OPT_CROSS_LAYERS_BATCH = 41, &
       CVG_OPT_TOP_PATCHES = 50, CVG_OPT_TOP_K = 51, CVG_OPT_IMAGES = 52, CVG_OPT_RECEPTIVE_FIELD = 53, &
       CVG_OPT_BOOTSTRAP = 70, CVG_OPT_BOOTSTRAP_BLOCKS = 71, CVG_OPT_CONFIDENCE = 72, &
       CVG_OPT_HOLDOUT = 73, CVG_OPT_PERMUTATIONS = 74, CVG_OPT_BASELINE_NETS = 75


  ! cvg_similarity_result (convergent.h): the whole-layer similarity indices.
  type, bind(C) :: cvg_similarity_result
    integer(c_int64_t) :: units_a, units_b, samples, dead_a, dead_b, svcca_dims_a, svcca_dims_b, warnings
    real(c_double) :: cka, cka_debiased, cca_mean, svcca_mean, pwcca, pwcca_reverse, pwcca_symmetric, &
         procrustes_euclidean, procrustes_angular, ridge_a, ridge_b
  end type

  interface
    ! ---- library
    function cvg_version() bind(C, name="cvg_version") result(r)
      import :: c_ptr
      type(c_ptr) :: r
    end function
    function cvg_version_number() bind(C, name="cvg_version_number") result(r)
      import :: c_int32_t
      integer(c_int32_t) :: r
    end function
    function cvg_features() bind(C, name="cvg_features") result(r)
      import :: c_int32_t
      integer(c_int32_t) :: r
    end function
    function cvg_cuda_device_available() bind(C, name="cvg_cuda_device_available") result(r)
      import :: c_int32_t
      integer(c_int32_t) :: r
    end function
    function cvg_last_error() bind(C, name="cvg_last_error") result(r)
      import :: c_ptr
      type(c_ptr) :: r
    end function
    function c_strlen(s) bind(C, name="strlen") result(r)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: r
    end function

    ! ---- backend contexts: one backend instance passed to the *_ctx calls
    function cvg_context_create(out, backend) bind(C, name="cvg_context_create") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), intent(out) :: out
      integer(c_int32_t), value :: backend
      integer(c_int) :: r
    end function
    subroutine cvg_context_destroy(ctx) bind(C, name="cvg_context_destroy")
      import :: c_ptr
      type(c_ptr), value :: ctx
    end subroutine
    function cvg_context_backend(ctx, out) bind(C, name="cvg_context_backend") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: ctx
      integer(c_int32_t), intent(out) :: out
      integer(c_int) :: r
    end function
    function cvg_context_description(ctx, buf, capacity, length) &
         bind(C, name="cvg_context_description") result(r)
      import :: c_ptr, c_int, c_int64_t, c_char
      type(c_ptr), value :: ctx
      character(kind=c_char), intent(out), optional :: buf(*)
      integer(c_int64_t), value :: capacity
      integer(c_int64_t), intent(out) :: length
      integer(c_int) :: r
    end function

    ! ---- options
    function cvg_options_create(out) bind(C, name="cvg_options_create") result(r)
      import :: c_ptr, c_int
      type(c_ptr), intent(out) :: out
      integer(c_int) :: r
    end function
    subroutine cvg_options_destroy(opts) bind(C, name="cvg_options_destroy")
      import :: c_ptr
      type(c_ptr), value :: opts
    end subroutine
    function cvg_options_set_int(opts, key, value) bind(C, name="cvg_options_set_int") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: opts
      integer(c_int32_t), value :: key
      integer(c_int64_t), value :: value
      integer(c_int) :: r
    end function
    function cvg_options_set_double(opts, key, value) bind(C, name="cvg_options_set_double") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: opts
      integer(c_int32_t), value :: key
      real(c_double), value :: value
      integer(c_int) :: r
    end function
    function cvg_options_set_string(opts, key, value) bind(C, name="cvg_options_set_string") result(r)
      import :: c_ptr, c_int, c_int32_t, c_char
      type(c_ptr), value :: opts
      integer(c_int32_t), value :: key
      character(kind=c_char), intent(in) :: value(*)
      integer(c_int) :: r
    end function
    function cvg_options_get_int(opts, key, out) bind(C, name="cvg_options_get_int") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: opts
      integer(c_int32_t), value :: key
      integer(c_int64_t), intent(out) :: out
      integer(c_int) :: r
    end function
    function cvg_options_get_double(opts, key, out) bind(C, name="cvg_options_get_double") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: opts
      integer(c_int32_t), value :: key
      real(c_double), intent(out) :: out
      integer(c_int) :: r
    end function
    function cvg_options_get_string(opts, key, buf, capacity, length) &
         bind(C, name="cvg_options_get_string") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_char
      type(c_ptr), value :: opts
      integer(c_int32_t), value :: key
      character(kind=c_char), intent(out), optional :: buf(*)
      integer(c_int64_t), value :: capacity
      integer(c_int64_t), intent(out) :: length
      integer(c_int) :: r
    end function

    ! ---- streaming statistics (Sec. 2)
    function cvg_stats_create(out, n_nets, units, backend) bind(C, name="cvg_stats_create") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), intent(out) :: out
      integer(c_int32_t), value :: n_nets
      integer(c_int64_t), intent(in) :: units(*)
      integer(c_int32_t), value :: backend
      integer(c_int) :: r
    end function
    function cvg_stats_create_ctx(out, ctx, n_nets, units) bind(C, name="cvg_stats_create_ctx") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), intent(out) :: out
      type(c_ptr), value :: ctx
      integer(c_int32_t), value :: n_nets
      integer(c_int64_t), intent(in) :: units(*)
      integer(c_int) :: r
    end function
    subroutine cvg_stats_destroy(stats) bind(C, name="cvg_stats_destroy")
      import :: c_ptr
      type(c_ptr), value :: stats
    end subroutine
    function cvg_stats_backend(stats) bind(C, name="cvg_stats_backend") result(r)
      import :: c_ptr
      type(c_ptr), value :: stats
      type(c_ptr) :: r
    end function
    function cvg_stats_nets(stats, out) bind(C, name="cvg_stats_nets") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: stats
      integer(c_int32_t), intent(out) :: out
      integer(c_int) :: r
    end function
    function cvg_stats_units(stats, net, out) bind(C, name="cvg_stats_units") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      integer(c_int64_t), intent(out) :: out
      integer(c_int) :: r
    end function
    function cvg_stats_push(stats, net, data, rows, ld, layout) bind(C, name="cvg_stats_push") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_float
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      real(c_float), intent(in) :: data(*)
      integer(c_int64_t), value :: rows, ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function
    function cvg_stats_merge(stats, other) bind(C, name="cvg_stats_merge") result(r)
      import :: c_ptr, c_int
      type(c_ptr), value :: stats, other
      integer(c_int) :: r
    end function
    function cvg_stats_finalize(stats) bind(C, name="cvg_stats_finalize") result(r)
      import :: c_ptr, c_int
      type(c_ptr), value :: stats
      integer(c_int) :: r
    end function
    function cvg_stats_samples(stats, out) bind(C, name="cvg_stats_samples") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: stats
      integer(c_int64_t), intent(out) :: out
      integer(c_int) :: r
    end function
    ! Capacity-checked: capacity = size(out); a smaller one than the net's
    ! units is CVG_E_INVALID_ARG and nothing is written.
    function cvg_stats_mean_n(stats, net, out, capacity) bind(C, name="cvg_stats_mean_n") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_stats_std_n(stats, net, out, capacity) bind(C, name="cvg_stats_std_n") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_stats_dead_units_n(stats, net, count, out, capacity) &
         bind(C, name="cvg_stats_dead_units_n") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      integer(c_int64_t), intent(out) :: count
      integer(c_int64_t), intent(inout), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    ! Deprecated (no capacity: out must hold units(net) values); prefer the _n forms.
    function cvg_stats_mean(stats, net, out) bind(C, name="cvg_stats_mean") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      real(c_double), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_stats_std(stats, net, out) bind(C, name="cvg_stats_std") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      real(c_double), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_stats_correlation(stats, net_a, net_b, out, ld, layout) &
         bind(C, name="cvg_stats_correlation") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net_a, net_b
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function
    function cvg_stats_dead_units(stats, net, count, out) bind(C, name="cvg_stats_dead_units") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      integer(c_int64_t), intent(out) :: count
      integer(c_int64_t), intent(out), optional :: out(*)
      integer(c_int) :: r
    end function
    function cvg_stats_save(stats, path) bind(C, name="cvg_stats_save") result(r)
      import :: c_ptr, c_int, c_char
      type(c_ptr), value :: stats
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int) :: r
    end function
    function cvg_stats_load(out, path, backend) bind(C, name="cvg_stats_load") result(r)
      import :: c_ptr, c_int, c_int32_t, c_char
      type(c_ptr), intent(out) :: out
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int32_t), value :: backend
      integer(c_int) :: r
    end function

    function cvg_stats_load_ctx(out, ctx, path) bind(C, name="cvg_stats_load_ctx") result(r)
      import :: c_ptr, c_int, c_char
      type(c_ptr), intent(out) :: out
      type(c_ptr), value :: ctx
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int) :: r
    end function

    ! ---- top-k inputs (Figs. 2, 4-7, 12); see convergent.h. Arrays are
    ! units x k row-major in C: k x units in Fortran (column u+1 is unit u).
    function cvg_stats_enable_top_k(stats, k, positions, first_image) &
         bind(C, name="cvg_stats_enable_top_k") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: stats
      integer(c_int64_t), value :: k, positions, first_image
      integer(c_int) :: r
    end function
    function cvg_stats_top_k(stats, net, images, positions, values, capacity) &
         bind(C, name="cvg_stats_top_k") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      integer(c_int64_t), intent(out) :: images(*)
      type(c_ptr), value :: positions, values  ! int64_t* / float* or c_null_ptr
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function

    ! ---- matching (Sec. 3.1)
    function cvg_semi_matching(similarity, rows, cols, ld, layout, column, value, mean) &
         bind(C, name="cvg_semi_matching") result(r)
      import :: c_int, c_int32_t, c_int64_t, c_double
      real(c_double), intent(in) :: similarity(*)
      integer(c_int64_t), value :: rows, cols, ld
      integer(c_int32_t), value :: layout
      integer(c_int64_t), intent(out) :: column(*)
      real(c_double), intent(out), optional :: value(*), mean
      integer(c_int) :: r
    end function
    function cvg_max_weight_matching(similarity, rows, cols, ld, layout, backend, column, value, mean, &
         primal, dual_bound, gap) bind(C, name="cvg_max_weight_matching") result(r)
      import :: c_int, c_int32_t, c_int64_t, c_double
      real(c_double), intent(in) :: similarity(*)
      integer(c_int64_t), value :: rows, cols, ld
      integer(c_int32_t), value :: layout, backend
      integer(c_int64_t), intent(out) :: column(*)
      real(c_double), intent(out), optional :: value(*), mean, primal, dual_bound, gap
      integer(c_int) :: r
    end function
    function cvg_align(similarity, rows, cols, ld, layout, backend, semi_column, matching_column, &
         overlap_ratio, fig3_order, matched_order) bind(C, name="cvg_align") result(r)
      import :: c_int, c_int32_t, c_int64_t, c_double
      real(c_double), intent(in) :: similarity(*)
      integer(c_int64_t), value :: rows, cols, ld
      integer(c_int32_t), value :: layout, backend
      integer(c_int64_t), intent(out), optional :: semi_column(*), matching_column(*)
      real(c_double), intent(out), optional :: overlap_ratio
      integer(c_int64_t), intent(out), optional :: fig3_order(*), matched_order(*)
      integer(c_int) :: r
    end function
    function cvg_table1(stats, net_a, net_b, opts, semi_matching_mean, matching_mean, overlap_ratio) &
         bind(C, name="cvg_table1") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: stats, opts
      integer(c_int32_t), value :: net_a, net_b
      real(c_double), intent(out), optional :: semi_matching_mean, matching_mean, overlap_ratio
      integer(c_int) :: r
    end function

    function cvg_max_weight_matching_ctx(ctx, similarity, rows, cols, ld, layout, column, value, mean, &
         primal, dual_bound, gap) bind(C, name="cvg_max_weight_matching_ctx") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: ctx
      real(c_double), intent(in) :: similarity(*)
      integer(c_int64_t), value :: rows, cols, ld
      integer(c_int32_t), value :: layout
      integer(c_int64_t), intent(out) :: column(*)
      real(c_double), intent(out), optional :: value(*), mean, primal, dual_bound, gap
      integer(c_int) :: r
    end function
    function cvg_align_ctx(ctx, similarity, rows, cols, ld, layout, semi_column, matching_column, &
         overlap_ratio, fig3_order, matched_order) bind(C, name="cvg_align_ctx") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: ctx
      real(c_double), intent(in) :: similarity(*)
      integer(c_int64_t), value :: rows, cols, ld
      integer(c_int32_t), value :: layout
      integer(c_int64_t), intent(out), optional :: semi_column(*), matching_column(*)
      real(c_double), intent(out), optional :: overlap_ratio
      integer(c_int64_t), intent(out), optional :: fig3_order(*), matched_order(*)
      integer(c_int) :: r
    end function

    ! ---- mutual information (Sec. 3.2)
    function cvg_sample_rows(total_rows, count, seed, out) bind(C, name="cvg_sample_rows") result(r)
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: total_rows, count, seed
      integer(c_int64_t), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_bin_units(out, values, samples, units, ld, layout, opts) bind(C, name="cvg_bin_units") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_float
      type(c_ptr), intent(out) :: out
      real(c_float), intent(in) :: values(*)
      integer(c_int64_t), value :: samples, units, ld
      integer(c_int32_t), value :: layout
      type(c_ptr), value :: opts
      integer(c_int) :: r
    end function
    subroutine cvg_binned_destroy(binned) bind(C, name="cvg_binned_destroy")
      import :: c_ptr
      type(c_ptr), value :: binned
    end subroutine
    function cvg_binned_shape(binned, units, samples, bins) bind(C, name="cvg_binned_shape") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: binned
      integer(c_int64_t), intent(out), optional :: units, samples
      integer(c_int32_t), intent(out), optional :: bins
      integer(c_int) :: r
    end function
    function cvg_binned_codes(binned, out, ld, layout) bind(C, name="cvg_binned_codes") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: binned
      integer(c_int32_t), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function
    function cvg_binned_edges(binned, unit, count, out, capacity) bind(C, name="cvg_binned_edges") result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: binned
      integer(c_int64_t), value :: unit
      integer(c_int64_t), intent(out) :: count
      real(c_double), intent(out), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_mutual_information(a, b, backend, out, ld, layout) bind(C, name="cvg_mutual_information") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: a, b
      integer(c_int32_t), value :: backend
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function

    function cvg_mutual_information_ctx(ctx, a, b, out, ld, layout) &
         bind(C, name="cvg_mutual_information_ctx") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: ctx, a, b
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function

    ! ---- whole-layer similarity indices (CKA, CCA family, Procrustes)
    function cvg_similarity_indices(out, cov_aa, ld_aa, cov_bb, ld_bb, cov_ab, ld_ab, layout, units_a, &
         units_b, samples, opts, canonical_correlations) bind(C, name="cvg_similarity_indices") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double, cvg_similarity_result
      type(cvg_similarity_result), intent(out) :: out
      real(c_double), intent(in) :: cov_aa(*), cov_bb(*), cov_ab(*)
      integer(c_int64_t), value :: ld_aa, ld_bb, ld_ab, units_a, units_b, samples
      integer(c_int32_t), value :: layout
      type(c_ptr), value :: opts
      real(c_double), intent(out), optional :: canonical_correlations(*)
      integer(c_int) :: r
    end function
    function cvg_similarity_indices_data(out, x, ldx, y, ldy, layout, samples, units_a, units_b, opts, &
         canonical_correlations) bind(C, name="cvg_similarity_indices_data") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double, cvg_similarity_result
      type(cvg_similarity_result), intent(out) :: out
      real(c_double), intent(in) :: x(*), y(*)
      integer(c_int64_t), value :: ldx, ldy, samples, units_a, units_b
      integer(c_int32_t), value :: layout
      type(c_ptr), value :: opts
      real(c_double), intent(out), optional :: canonical_correlations(*)
      integer(c_int) :: r
    end function

    ! ---- sparse prediction (Sec. 4)
    function cvg_sparse_prediction(out, stats, target_net, predictor_net, opts) &
         bind(C, name="cvg_sparse_prediction") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), intent(out) :: out
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: target_net, predictor_net
      type(c_ptr), value :: opts
      integer(c_int) :: r
    end function
    subroutine cvg_sparse_destroy(sparse) bind(C, name="cvg_sparse_destroy")
      import :: c_ptr
      type(c_ptr), value :: sparse
    end subroutine
    function cvg_sparse_shape(sparse, n_alphas, targets, predictors) bind(C, name="cvg_sparse_shape") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: sparse
      integer(c_int64_t), intent(out), optional :: n_alphas, targets, predictors
      integer(c_int) :: r
    end function
    function cvg_sparse_alphas(sparse, out) bind(C, name="cvg_sparse_alphas") result(r)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: sparse
      real(c_double), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_sparse_mean_loss(sparse, out) bind(C, name="cvg_sparse_mean_loss") result(r)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: sparse
      real(c_double), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_sparse_mean_nonzero(sparse, out) bind(C, name="cvg_sparse_mean_nonzero") result(r)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: sparse
      real(c_double), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_sparse_max_duality_gap(sparse, out) bind(C, name="cvg_sparse_max_duality_gap") result(r)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: sparse
      real(c_double), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_sparse_converged(sparse, out) bind(C, name="cvg_sparse_converged") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: sparse
      integer(c_int32_t), intent(out) :: out(*)
      integer(c_int) :: r
    end function
    function cvg_sparse_loss(sparse, out, ld, layout) bind(C, name="cvg_sparse_loss") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: sparse
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function
    function cvg_sparse_nonzero(sparse, out, ld, layout) bind(C, name="cvg_sparse_nonzero") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: sparse
      integer(c_int64_t), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function
    function cvg_sparse_weights(sparse, alpha_index, out, ld, layout) bind(C, name="cvg_sparse_weights") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: sparse
      integer(c_int64_t), value :: alpha_index
      real(c_double), intent(inout) :: out(*)
      integer(c_int64_t), value :: ld
      integer(c_int32_t), value :: layout
      integer(c_int) :: r
    end function

    ! ---- spectral clustering (Sec. 4, 6.4-6.6)
    function cvg_spectral_clustering(out, stats, net_a, net_b, opts) &
         bind(C, name="cvg_spectral_clustering") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), intent(out) :: out
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net_a, net_b
      type(c_ptr), value :: opts
      integer(c_int) :: r
    end function
    function cvg_spectral_clustering_ctx(out, ctx, stats, net_a, net_b, opts) &
         bind(C, name="cvg_spectral_clustering_ctx") result(r)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), intent(out) :: out
      type(c_ptr), value :: ctx, stats
      integer(c_int32_t), value :: net_a, net_b
      type(c_ptr), value :: opts
      integer(c_int) :: r
    end function
    subroutine cvg_clustering_destroy(clustering) bind(C, name="cvg_clustering_destroy")
      import :: c_ptr
      type(c_ptr), value :: clustering
    end subroutine
    function cvg_clustering_count(clustering, n_clusters) bind(C, name="cvg_clustering_count") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: clustering
      integer(c_int64_t), intent(out) :: n_clusters
      integer(c_int) :: r
    end function
    function cvg_clustering_k(clustering, k, k_eigengap) bind(C, name="cvg_clustering_k") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: clustering
      integer(c_int64_t), intent(out) :: k, k_eigengap
      integer(c_int) :: r
    end function
    function cvg_clustering_node(clustering, id, parent, depth, leaf, between_net_similarity, &
         within_net_similarity) bind(C, name="cvg_clustering_node") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_double
      type(c_ptr), value :: clustering
      integer(c_int64_t), value :: id
      integer(c_int64_t), intent(out), optional :: parent
      integer(c_int32_t), intent(out), optional :: depth, leaf
      real(c_double), intent(out), optional :: between_net_similarity, within_net_similarity
      integer(c_int) :: r
    end function
    function cvg_clustering_members(clustering, id, side, count, out, capacity) &
         bind(C, name="cvg_clustering_members") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), value :: clustering
      integer(c_int64_t), value :: id
      integer(c_int32_t), value :: side
      integer(c_int64_t), intent(out) :: count
      integer(c_int64_t), intent(out), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_clustering_children(clustering, id, count, out, capacity) &
         bind(C, name="cvg_clustering_children") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: clustering
      integer(c_int64_t), value :: id
      integer(c_int64_t), intent(out) :: count
      integer(c_int64_t), intent(out), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_clustering_eigenvalues(clustering, count, out, capacity) &
         bind(C, name="cvg_clustering_eigenvalues") result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: clustering
      integer(c_int64_t), intent(out) :: count
      real(c_double), intent(out), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_clustering_leaves(clustering, count, out, capacity) bind(C, name="cvg_clustering_leaves") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: clustering
      integer(c_int64_t), intent(out) :: count
      integer(c_int64_t), intent(out), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_clustering_similarities(clustering, count, between, within, capacity) &
         bind(C, name="cvg_clustering_similarities") result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: clustering
      integer(c_int64_t), intent(out) :: count
      real(c_double), intent(out), optional :: between(*), within(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function
    function cvg_clustering_permutation(clustering, count, out, capacity) &
         bind(C, name="cvg_clustering_permutation") result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: clustering
      integer(c_int64_t), intent(out) :: count
      integer(c_int64_t), intent(out), optional :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: r
    end function

    ! ---- mean activation (abstract, finding 3)
    function cvg_mean_activation_sorted(stats, net, out, spread) bind(C, name="cvg_mean_activation_sorted") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net
      real(c_double), intent(out) :: out(*)
      real(c_double), intent(out), optional :: spread
      integer(c_int) :: r
    end function
    function cvg_mean_activation_distance(stats, net_a, net_b, distance) &
         bind(C, name="cvg_mean_activation_distance") result(r)
      import :: c_ptr, c_int, c_int32_t, c_double
      type(c_ptr), value :: stats
      integer(c_int32_t), value :: net_a, net_b
      real(c_double), intent(out) :: distance
      integer(c_int) :: r
    end function
    function cvg_mean_activation_ratio(stats, ratio) bind(C, name="cvg_mean_activation_ratio") result(r)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: stats
      real(c_double), intent(out) :: ratio
      integer(c_int) :: r
    end function

    ! ---- result export
    ! inputs: array of c_loc() of NUL-terminated character targets.
    function cvg_compare(inputs, n_inputs, out_dir, opts) bind(C, name="cvg_compare") result(r)
      import :: c_ptr, c_int, c_int32_t, c_char
      type(c_ptr), intent(in) :: inputs(*)
      integer(c_int32_t), value :: n_inputs
      character(kind=c_char), intent(in) :: out_dir(*)
      type(c_ptr), value :: opts
      integer(c_int) :: r
    end function
    ! The pipeline fed batch by batch (convergent.h, cvg_session_*).
    ! net_names: C pointers to NUL-terminated names; images: total inputs or 0.
    function cvg_session_create(session, net_names, n_nets, opts, images) &
        bind(C, name="cvg_session_create") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t
      type(c_ptr), intent(out) :: session
      type(c_ptr), intent(in) :: net_names(*)
      integer(c_int32_t), value :: n_nets
      type(c_ptr), value :: opts
      integer(c_int64_t), value :: images
      integer(c_int) :: r
    end function
    subroutine cvg_session_destroy(session) bind(C, name="cvg_session_destroy")
      import :: c_ptr
      type(c_ptr), value :: session
    end subroutine
    ! A C-contiguous float32 batch: a Fortran array x(units, batch) is the
    ! C shape [batch, units] (rank 2); x(w, h, c, batch) is [batch, c, h, w].
    ! x must stay valid until every net has pushed this batch.
    function cvg_session_push(session, net, layer, data, rank, shape) bind(C, name="cvg_session_push") result(r)
      import :: c_ptr, c_int, c_int32_t, c_int64_t, c_float, c_char
      type(c_ptr), value :: session
      integer(c_int32_t), value :: net
      character(kind=c_char), intent(in) :: layer(*)
      real(c_float), intent(in) :: data(*)
      integer(c_int32_t), value :: rank
      integer(c_int64_t), intent(in) :: shape(*)
      integer(c_int) :: r
    end function
    function cvg_session_finish(session, out_dir) bind(C, name="cvg_session_finish") result(r)
      import :: c_ptr, c_int, c_char
      type(c_ptr), value :: session
      character(kind=c_char), intent(in) :: out_dir(*)
      integer(c_int) :: r
    end function
  end interface

contains

  ! A NUL-terminated C string (owned by the library) as a Fortran string.
  function cvg_c_string(p) result(s)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: s
    character(kind=c_char), pointer :: chars(:)
    integer :: n, i
    if (.not. c_associated(p)) then
      s = ''
      return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: s)
    do i = 1, n
      s(i:i) = chars(i)
    end do
  end function

  ! cvg_last_error() as a Fortran string.
  function cvg_error_message() result(s)
    character(len=:), allocatable :: s
    s = cvg_c_string(cvg_last_error())
  end function

  ! cvg_version() as a Fortran string.
  function cvg_version_string() result(s)
    character(len=:), allocatable :: s
    s = cvg_c_string(cvg_version())
  end function

  ! cvg_context_description() as a Fortran string ('' when ctx is not a live
  ! context; cvg_error_message() then says why).
  function cvg_context_description_string(ctx) result(s)
    type(c_ptr), intent(in) :: ctx
    character(len=:), allocatable :: s
    character(kind=c_char), allocatable :: buf(:)
    integer(c_int64_t) :: length, written
    integer :: i
    length = 0
    written = 0
    if (cvg_context_description(ctx, capacity=0_c_int64_t, length=length) /= CVG_OK) length = 0
    allocate(buf(length + 1))
    if (length > 0) then
      if (cvg_context_description(ctx, buf, length + 1, written) /= CVG_OK) written = 0
    end if
    allocate(character(len=written) :: s)
    do i = 1, int(written)
      s(i:i) = buf(i)
    end do
  end function
end module convergent
