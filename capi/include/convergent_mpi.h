/* convergent_mpi.h: the comparison of convergent.h spread over the ranks of
 * an MPI communicator (docs/mpi.md). Present when libconvergent was built
 * with MPI (CMake CONVERGENT_MPI, AUTO by default: when an MPI library is
 * found); link libconvergent and the MPI library (MPI::MPI_C).
 *
 * Every rank of the communicator calls cvg_compare_mpi with the same inputs
 * and options. Each streams its own contiguous slice of every layer's images
 * (all positions of an image stay on one rank); the moments, the top-k
 * inputs, the per-sample sums and the Sec. 3.2 sample rows are reduced to
 * rank 0 in rank order; rank 0 runs the analyses and writes out_dir
 * atomically. The figures equal a single process's: the sample rows, the MI
 * histograms, the top-k lists byte for byte; the statistics within 1e-12
 * relative (a rank-ordered Chan merge instead of one running sum). An
 * error on any rank makes every rank return it, the message prefixed with
 * "rank R: ", and leaves no output. cross_layers is CVG_E_UNSUPPORTED with
 * more than one rank. */
#ifndef CONVERGENT_MPI_H
#define CONVERGENT_MPI_H

#include <mpi.h>

#include "convergent.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cvg_compare (convergent.h) over the ranks of comm (collective: every
 * rank calls it). Returns 0 or the same CVG_E_* status on every rank;
 * cvg_last_error() gives the failing rank's message. MPI must be
 * initialised. */
CVG_API int cvg_compare_mpi(const char *const *inputs, int32_t n_inputs, const char *out_dir,
                            const cvg_options *opts, MPI_Comm comm);

/* The same with the communicator as a Fortran handle (MPI_Comm_c2f; what
 * mpi4py's comm.py2f() and Fortran's MPI module give). */
CVG_API int cvg_compare_mpi_f(const char *const *inputs, int32_t n_inputs, const char *out_dir,
                              const cvg_options *opts, int64_t fortran_comm);

#ifdef __cplusplus
}
#endif

#endif /* CONVERGENT_MPI_H */
