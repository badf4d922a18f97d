! A full comparison through the C ABI from Fortran: two nets' batches pushed
! from column-major Fortran arrays (CVG_COL_MAJOR, ld = leading extent, a
! second batch by sequence association), correlations, mean and std checked
! against values computed here directly, semi-matching and max-weight
! matching checked by hand, mutual information, sparse prediction, and
! cvg_compare on a generated dataset (Fortran-order .npy files written here).
! Prints "N passed, M failed"; exits non-zero on failure.
program test_capi_fortran
  use, intrinsic :: iso_c_binding
  use convergent
  implicit none

  integer, parameter :: n = 600, ua = 3, ub = 4
  integer(c_int64_t), parameter :: n64 = n
  real(c_float) :: x(n, ua), y(n, ub)
  real(c_double) :: corr(ua, ub), ref, mean_a(ua), sd_a(ua), value(ua), mean_val, primal, dual, gap
  real(c_double) :: semi_value(ua), semi_mean, best, mi(ua, ua), loss(2), exported_check, p0
  real(c_float) :: exported(ub, ua)
  integer(c_int64_t) :: column(ua), semi(ua), units(2), samples, n_alphas
  integer :: perm(3) = [3, 1, 2], i, j, u, checks = 0, failures = 0, arg
  type(c_ptr) :: st, opts, binned, sparse, ctx, st_ctx
  real(c_double) :: corr_ctx(ua, ub), mi_ctx(ua, ua), mean_small(ua + 1)
  integer(c_int64_t) :: column_ctx(ua), dead(ub), dead_count
  integer(c_int32_t) :: kind
  integer(c_int) :: rc
  character(len=*), parameter :: work = 'test_capi_fortran.work'
  character(kind=c_char, len=64), target :: in1, in2
  type(c_ptr) :: inputs(2)
  type(c_ptr) :: session
  character(kind=c_char, len=8), target :: name_a, name_b
  real(c_float), target :: xt(ua, n), yt(ub, n)
  logical :: there
  real(c_double) :: xd(n, ua), yd(n, ub), cov_aa(ua, ua), cov_bb(ub, ub), cov_ab(ua, ub)
  type(cvg_similarity_result) :: sim, sim_cov
  type(c_ptr) :: st_k
  integer(c_int64_t) :: top_images(3, ua)
  real(c_float), target :: top_values(3, ua)

  ! Two nets: y(:, j) repeats x(:, perm(j)) with noise; y(:, 4) is unrelated.
  do i = 1, n
    do u = 1, ua
      x(i, u) = real(sin(0.37d0 * i * u) + 0.2d0 * cos(0.11d0 * i * i), c_float)
    end do
    do j = 1, 3
      y(i, j) = x(i, perm(j)) + real(0.1d0 * cos(1.3d0 * i * j), c_float)
    end do
    y(i, 4) = real(cos(0.71d0 * i), c_float)
  end do

  call check(len(cvg_version_string()) > 0, 'version')
  units = [int(ua, c_int64_t), int(ub, c_int64_t)]
  call check(cvg_stats_create(st, 2_c_int32_t, units, CVG_BACKEND_CPU) == CVG_OK, 'create')
  call check(cvg_c_string(cvg_stats_backend(st)) == 'cpu', 'backend name')
  ! Batch 1: rows 1..200 of both nets (ld = n, the arrays' leading extent).
  call check(cvg_stats_push(st, 0_c_int32_t, x, 200_c_int64_t, n64, CVG_COL_MAJOR) == CVG_OK, 'push a1')
  call check(cvg_stats_push(st, 1_c_int32_t, y, 200_c_int64_t, n64, CVG_COL_MAJOR) == CVG_OK, 'push b1')
  ! Batch 2: rows 201..n, passed from element (201, 1) with the same ld.
  call check(cvg_stats_push(st, 0_c_int32_t, x(201, 1), n64 - 200, n64, CVG_COL_MAJOR) == CVG_OK, 'push a2')
  call check(cvg_stats_push(st, 1_c_int32_t, y(201, 1), n64 - 200, n64, CVG_COL_MAJOR) == CVG_OK, 'push b2')
  call check(cvg_stats_finalize(st) == CVG_OK, 'finalize')
  call check(cvg_stats_samples(st, samples) == CVG_OK .and. samples == n, 'samples')

  ! Each unit's top 3 inputs, gathered with the same two batches: the best
  ! is maxloc (first on ties, as the C API's lower index), values descend.
  call check(cvg_stats_create(st_k, 2_c_int32_t, units, CVG_BACKEND_CPU) == CVG_OK, 'create top-k')
  call check(cvg_stats_enable_top_k(st_k, 3_c_int64_t, 1_c_int64_t, 0_c_int64_t) == CVG_OK, 'enable top-k')
  call check(cvg_stats_push(st_k, 0_c_int32_t, x, 200_c_int64_t, n64, CVG_COL_MAJOR) == CVG_OK, 'top-k push a1')
  call check(cvg_stats_push(st_k, 1_c_int32_t, y, 200_c_int64_t, n64, CVG_COL_MAJOR) == CVG_OK, 'top-k push b1')
  call check(cvg_stats_push(st_k, 0_c_int32_t, x(201, 1), n64 - 200, n64, CVG_COL_MAJOR) == CVG_OK, 'top-k push a2')
  call check(cvg_stats_push(st_k, 1_c_int32_t, y(201, 1), n64 - 200, n64, CVG_COL_MAJOR) == CVG_OK, 'top-k push b2')
  call check(cvg_stats_top_k(st_k, 0_c_int32_t, top_images, c_null_ptr, c_loc(top_values), int(3 * ua, c_int64_t)) &
             == CVG_OK, 'top-k read')
  do u = 1, ua
    call check(top_images(1, u) + 1 == maxloc(x(:, u), 1), 'top-k best = maxloc')
    call check(top_values(1, u) == maxval(x(:, u)), 'top-k best value')
    call check(top_values(1, u) >= top_values(2, u) .and. top_values(2, u) >= top_values(3, u), 'top-k order')
    call check(top_values(2, u) == x(top_images(2, u) + 1, u), 'top-k second value')
  end do
  call cvg_stats_destroy(st_k)

  ! Correlation, mean and population std against a direct two-pass computation.
  call check(cvg_stats_correlation(st, 0_c_int32_t, 1_c_int32_t, corr, int(ua, c_int64_t), CVG_COL_MAJOR) &
       == CVG_OK, 'correlation')
  do u = 1, ua
    do j = 1, ub
      ref = pearson(x(:, u), y(:, j))
      call check(abs(corr(u, j) - ref) < 1d-9, 'corr vs hand')
    end do
  end do
  call check(cvg_stats_mean(st, 0_c_int32_t, mean_a) == CVG_OK, 'mean')
  call check(cvg_stats_std(st, 0_c_int32_t, sd_a) == CVG_OK, 'std')
  do u = 1, ua
    ref = sum(real(x(:, u), c_double)) / n
    call check(abs(mean_a(u) - ref) < 1d-12, 'mean vs hand')
    call check(abs(sd_a(u) - sqrt(sum((real(x(:, u), c_double) - ref)**2) / n)) < 1d-9, 'std vs hand')
  end do

  ! Semi-matching: maxloc per row (0-based columns from C).
  call check(cvg_semi_matching(corr, int(ua, c_int64_t), int(ub, c_int64_t), int(ua, c_int64_t), &
       CVG_COL_MAJOR, semi, semi_value, semi_mean) == CVG_OK, 'semi')
  do u = 1, ua
    arg = maxloc(corr(u, :), 1)
    call check(semi(u) + 1 == arg .and. semi_value(u) == corr(u, arg), 'semi vs maxloc')
  end do
  call check(abs(semi_mean - sum(semi_value) / ua) < 1d-12, 'semi mean')

  ! Max-weight matching: the planted permutation, primal = sum of matched
  ! correlations = the best over all injective maps (brute force), gap ~ 0.
  call check(cvg_max_weight_matching(corr, int(ua, c_int64_t), int(ub, c_int64_t), int(ua, c_int64_t), &
       CVG_COL_MAJOR, CVG_BACKEND_CPU, column, value, mean_val, primal, dual, gap) == CVG_OK, 'matching')
  do j = 1, 3
    call check(column(perm(j)) + 1 == j, 'planted matching')
  end do
  best = -huge(1d0)
  do i = 1, ub
    do j = 1, ub
      do u = 1, ub
        if (i /= j .and. j /= u .and. i /= u) best = max(best, corr(1, i) + corr(2, j) + corr(3, u))
      end do
    end do
  end do
  call check(abs(primal - best) < 1d-12, 'primal = brute force optimum')
  call check(abs(gap) < 1d-9 .and. dual >= primal - 1d-12, 'certificate')
  call check(abs(mean_val - primal / ua) < 1d-12, 'matching mean')
  ! The optional outputs may be omitted (NULL in C).
  call check(cvg_max_weight_matching(corr, int(ua, c_int64_t), int(ub, c_int64_t), int(ua, c_int64_t), &
       CVG_COL_MAJOR, CVG_BACKEND_CPU, column) == CVG_OK, 'matching without optional outputs')

  ! Mutual information of net a with itself: symmetric, the diagonal (entropy) largest.
  call check(cvg_options_create(opts) == CVG_OK, 'options')
  call check(cvg_options_set_int(opts, CVG_OPT_MI_BINS, 10_c_int64_t) == CVG_OK, 'mi bins')
  call check(cvg_bin_units(binned, x, n64, int(ua, c_int64_t), n64, CVG_COL_MAJOR, opts) == CVG_OK, 'bin')
  call check(cvg_mutual_information(binned, binned, CVG_BACKEND_CPU, mi, int(ua, c_int64_t), CVG_COL_MAJOR) &
       == CVG_OK, 'mi')
  do u = 1, ua
    ! Entropy of the codes: the zero bin holds the values <= 1e-6, the 10
    ! percentile bins share the rest equally (up to ties at the edges).
    p0 = count(x(:, u) <= 1e-6) / real(n, c_double)
    call check(abs(mi(u, u) - (-p0 * log(p0) - (1 - p0) * log((1 - p0) / 10))) < 0.02d0, 'entropy')
    do j = 1, ua
      call check(abs(mi(u, j) - mi(j, u)) < 1d-12 .and. mi(u, j) <= mi(u, u) + 1d-12, 'mi symmetric')
    end do
  end do
  call cvg_binned_destroy(binned)

  ! Sparse prediction with two alphas: a weaker penalty fits better.
  call check(cvg_options_set_string(opts, CVG_OPT_LASSO_ALPHAS, '0.2,0.01' // c_null_char) == CVG_OK, 'alphas')
  call check(cvg_sparse_prediction(sparse, st, 0_c_int32_t, 1_c_int32_t, opts) == CVG_OK, 'sparse')
  call check(cvg_sparse_shape(sparse, n_alphas=n_alphas) == CVG_OK .and. n_alphas == 2, 'sparse shape')
  call check(cvg_sparse_mean_loss(sparse, loss) == CVG_OK .and. loss(2) < loss(1) .and. loss(1) < 0.5d0, &
       'sparse loss')
  call cvg_sparse_destroy(sparse)

  ! A backend context created once and passed to the *_ctx calls: the same
  ! results as the calls taking a backend id.
  call check(cvg_context_create(ctx, CVG_BACKEND_CPU) == CVG_OK, 'context')
  call check(cvg_context_backend(ctx, kind) == CVG_OK .and. kind == CVG_BACKEND_CPU, 'context backend')
  call check(index(cvg_context_description_string(ctx), 'cpu') == 1, 'context description')
  call check(cvg_stats_create_ctx(st_ctx, ctx, 2_c_int32_t, units) == CVG_OK, 'create ctx')
  call check(cvg_stats_push(st_ctx, 0_c_int32_t, x, n64, n64, CVG_COL_MAJOR) == CVG_OK, 'push ctx a')
  call check(cvg_stats_push(st_ctx, 1_c_int32_t, y, n64, n64, CVG_COL_MAJOR) == CVG_OK, 'push ctx b')
  call check(cvg_stats_finalize(st_ctx) == CVG_OK, 'finalize ctx')
  call check(cvg_stats_correlation(st_ctx, 0_c_int32_t, 1_c_int32_t, corr_ctx, int(ua, c_int64_t), &
       CVG_COL_MAJOR) == CVG_OK, 'correlation ctx')
  call check(maxval(abs(corr_ctx - corr)) < 1d-12, 'correlation ctx = correlation')
  call check(cvg_max_weight_matching_ctx(ctx, corr, int(ua, c_int64_t), int(ub, c_int64_t), &
       int(ua, c_int64_t), CVG_COL_MAJOR, column_ctx) == CVG_OK, 'matching ctx')
  call check(all(column_ctx == column), 'matching ctx = matching')
  call check(cvg_bin_units(binned, x, n64, int(ua, c_int64_t), n64, CVG_COL_MAJOR, opts) == CVG_OK, 'bin again')
  call check(cvg_mutual_information_ctx(ctx, binned, binned, mi_ctx, int(ua, c_int64_t), CVG_COL_MAJOR) &
       == CVG_OK, 'mi ctx')
  call check(maxval(abs(mi_ctx - mi)) == 0d0, 'mi ctx = mi')
  call cvg_binned_destroy(binned)
  call cvg_context_destroy(ctx)
  call check(cvg_context_backend(ctx, kind) == CVG_E_INVALID_ARG, 'context after destroy')
  call check(cvg_max_weight_matching_ctx(c_null_ptr, corr, int(ua, c_int64_t), int(ub, c_int64_t), &
       int(ua, c_int64_t), CVG_COL_MAJOR, column_ctx) == CVG_E_INVALID_ARG, 'null context')
  ! The accumulator keeps its backend after the context is gone.
  call check(cvg_stats_push(st_ctx, 0_c_int32_t, x, n64, n64, CVG_COL_MAJOR) == CVG_OK, 'push after ctx destroy')
  call cvg_stats_destroy(st_ctx)

  ! Capacity-checked getters: a too-small array is refused and left as it was.
  mean_small = -1d0
  call check(cvg_stats_mean_n(st, 0_c_int32_t, mean_small, int(ua - 1, c_int64_t)) == CVG_E_INVALID_ARG, &
       'mean_n too small')
  call check(all(mean_small == -1d0), 'mean_n wrote nothing')
  call check(cvg_stats_mean_n(st, 0_c_int32_t, mean_small, int(size(mean_small), c_int64_t)) == CVG_OK, &
       'mean_n')
  call check(all(mean_small(1:ua) == mean_a) .and. mean_small(ua + 1) == -1d0, 'mean_n values')
  call check(cvg_stats_std_n(st, 0_c_int32_t, mean_small, int(ua, c_int64_t)) == CVG_OK, 'std_n')
  call check(all(mean_small(1:ua) == sd_a), 'std_n values')
  call check(cvg_stats_dead_units_n(st, 1_c_int32_t, dead_count, capacity=0_c_int64_t) == CVG_OK .and. &
       dead_count == 0, 'dead_units_n count')
  call check(cvg_stats_dead_units_n(st, 1_c_int32_t, dead_count, dead, int(size(dead), c_int64_t)) == CVG_OK, &
       'dead_units_n')

  ! Error paths: ld smaller than the rows of a column-major matrix, a NULL
  ! (destroyed) handle; the message comes back as a Fortran string.
  call check(cvg_stats_push(st, 0_c_int32_t, x, 10_c_int64_t, 5_c_int64_t, CVG_COL_MAJOR) == CVG_E_INVALID_ARG, &
       'bad ld')
  call check(index(cvg_error_message(), 'leading dimension') > 0, 'message')
  call check(cvg_stats_finalize(c_null_ptr) == CVG_E_INVALID_ARG, 'null handle')

  ! cvg_compare on the same data written as Fortran-order .npy files.
  call execute_command_line('rm -rf ' // work // ' && mkdir -p ' // work // '/neta ' // work // '/netb')
  call write_npy(work // '/neta/fc.npy', x)
  call write_npy(work // '/netb/fc.npy', y)
  in1 = work // '/neta' // c_null_char
  in2 = work // '/netb' // c_null_char
  inputs = [c_loc(in1), c_loc(in2)]
  call check(cvg_options_set_int(opts, CVG_OPT_BACKEND, int(CVG_BACKEND_CPU, c_int64_t)) == CVG_OK, 'opt backend')
  call check(cvg_options_set_int(opts, CVG_OPT_CLUSTER_K, 2_c_int64_t) == CVG_OK, 'opt k')
  rc = cvg_compare(inputs, 2_c_int32_t, work // '/out' // c_null_char, opts)
  call check(rc == CVG_OK, 'compare: ' // cvg_error_message())
  inquire(file=work // '/out/summary.json', exist=there)
  call check(there, 'summary.json written')
  ! The exported corr is C-order float32 (rows = units of a): read it as a
  ! (ub, ua) Fortran array, i.e. transposed.
  call read_npy_payload(work // '/out/fc/neta~netb.corr.npy', exported)
  exported_check = maxval(abs(real(transpose(exported), c_double) - corr))
  call check(exported_check < 1d-6, 'exported correlation = cvg_stats correlation')
  ! An existing output directory without CVG_OPT_OVERWRITE is an I/O error.
  call check(cvg_compare(inputs, 2_c_int32_t, work // '/out' // c_null_char, opts) == CVG_E_IO, 'compare exists')
  ! The same data fed batch by batch (two batches of n/2 inputs) through a
  ! session: x(units, batch) in Fortran order is the C batch [batch, units].
  name_a = 'neta' // c_null_char
  name_b = 'netb' // c_null_char
  inputs = [c_loc(name_a), c_loc(name_b)]
  xt = transpose(x)
  yt = transpose(y)
  call check(cvg_session_create(session, inputs, 2_c_int32_t, opts, n64) == CVG_OK, 'session create')
  do i = 0, 1
    call check(cvg_session_push(session, 0_c_int32_t, 'fc' // c_null_char, xt(:, 1 + i * (n / 2):), 2_c_int32_t, &
         [int(n / 2, c_int64_t), int(ua, c_int64_t)]) == CVG_OK, 'session push a')
    call check(cvg_session_push(session, 1_c_int32_t, 'fc' // c_null_char, yt(:, 1 + i * (n / 2):), 2_c_int32_t, &
         [int(n / 2, c_int64_t), int(ub, c_int64_t)]) == CVG_OK, 'session push b')
  end do
  call check(cvg_session_push(session, 2_c_int32_t, 'fc' // c_null_char, xt, 2_c_int32_t, &
       [int(n, c_int64_t), int(ua, c_int64_t)]) == CVG_E_INVALID_ARG, 'session net out of range')
  call check(cvg_session_finish(session, work // '/session' // c_null_char) == CVG_OK, 'session finish')
  call cvg_session_destroy(session)
  call read_npy_payload(work // '/session/fc/neta~netb.corr.npy', exported)
  call check(maxval(abs(real(transpose(exported), c_double) - corr)) < 1d-6, 'session correlation = cvg_stats')
  if (failures == 0) call execute_command_line('rm -rf ' // work)

  ! Whole-layer similarity indices: from the data (a net against twice
  ! itself: CKA and mean CCA 1, angular Procrustes distance 0), and from
  ! covariances computed here, which must give the data version's indices
  ! for nets of different widths.
  xd = real(x, c_double)
  yd = real(y, c_double)
  call check(cvg_similarity_indices_data(sim, xd, n64, 2d0 * xd, n64, CVG_COL_MAJOR, n64, &
       int(ua, c_int64_t), int(ua, c_int64_t), c_null_ptr) == CVG_OK, 'similarity indices (data)')
  call check(abs(sim%cka - 1d0) < 1d-12 .and. abs(sim%cca_mean - 1d0) < 1d-9 .and. &
       abs(sim%procrustes_angular) < 1d-6, 'similarity indices of a scaled copy')
  do u = 1, ua
    xd(:, u) = xd(:, u) - sum(xd(:, u)) / n
  end do
  do j = 1, ub
    yd(:, j) = yd(:, j) - sum(yd(:, j)) / n
  end do
  cov_aa = matmul(transpose(xd), xd) / n
  cov_bb = matmul(transpose(yd), yd) / n
  cov_ab = matmul(transpose(xd), yd) / n
  call check(cvg_similarity_indices_data(sim, xd, n64, yd, n64, CVG_COL_MAJOR, n64, int(ua, c_int64_t), &
       int(ub, c_int64_t), c_null_ptr) == CVG_OK, 'similarity indices (data, 3 vs 4 units)')
  call check(cvg_similarity_indices(sim_cov, cov_aa, int(ua, c_int64_t), cov_bb, int(ub, c_int64_t), cov_ab, &
       int(ua, c_int64_t), CVG_COL_MAJOR, int(ua, c_int64_t), int(ub, c_int64_t), n64, c_null_ptr) == CVG_OK, &
       'similarity indices (covariances)')
  call check(abs(sim_cov%cka - sim%cka) < 1d-12 .and. abs(sim_cov%cca_mean - sim%cca_mean) < 1d-10 .and. &
       abs(sim_cov%procrustes_euclidean - sim%procrustes_euclidean) < 1d-10 .and. sim%cka > 0.5d0, &
       'similarity indices: covariances = data')

  call cvg_options_destroy(opts)
  call cvg_stats_destroy(st)
  call cvg_stats_destroy(c_null_ptr)

  print '(I0, A, I0, A)', checks - failures, ' passed, ', failures, ' failed'
  if (failures /= 0) error stop 1

contains

  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(len=*), intent(in) :: what
    checks = checks + 1
    if (.not. ok) then
      failures = failures + 1
      write (*, '(A, A, A, A)') 'CHECK failed: ', what, '; last error: ', cvg_error_message()
    end if
  end subroutine

  ! Pearson correlation by hand, in double precision, two passes.
  function pearson(a, b) result(r)
    real(c_float), intent(in) :: a(:), b(:)
    real(c_double) :: r, ma, mb
    ma = sum(real(a, c_double)) / size(a)
    mb = sum(real(b, c_double)) / size(b)
    r = sum((a - ma) * (b - mb)) / sqrt(sum((a - ma)**2) * sum((b - mb)**2))
  end function

  ! A float32 .npy (format 1.0) with fortran_order True: the array as is.
  subroutine write_npy(path, a)
    character(len=*), intent(in) :: path
    real(c_float), intent(in) :: a(:, :)
    character(len=:), allocatable :: dict
    character(len=16) :: d1, d2
    integer :: unit, pad, header_len
    write (d1, '(I0)') size(a, 1)
    write (d2, '(I0)') size(a, 2)
    dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (" // trim(d1) // ", " // trim(d2) // "), }"
    pad = modulo(64 - modulo(10 + len(dict) + 1, 64), 64)
    header_len = len(dict) + pad + 1
    open (newunit=unit, file=path, access='stream', form='unformatted', status='replace')
    write (unit) char(147) // 'NUMPY' // char(1) // char(0)
    write (unit) char(modulo(header_len, 256)) // char(header_len / 256)
    write (unit) dict // repeat(' ', pad) // char(10)
    write (unit) a
    close (unit)
  end subroutine

  subroutine read_npy_payload(path, a)
    character(len=*), intent(in) :: path
    real(c_float), intent(out) :: a(:, :)
    character(len=10) :: head
    integer :: unit, header_len
    open (newunit=unit, file=path, access='stream', form='unformatted', status='old')
    read (unit) head
    header_len = ichar(head(9:9)) + 256 * ichar(head(10:10))
    read (unit, pos=11 + header_len) a
    close (unit)
  end subroutine
end program test_capi_fortran
