/* cvg_compare_mpi (convergent_mpi.h) from C, run under mpirun by c_api.sh:
 *   c_compare_mpi SINGLE_DIR DISTRIBUTED_DIR NET NET [NET...]
 * Rank 0 writes SINGLE_DIR with cvg_compare (one process), then every rank
 * writes DISTRIBUTED_DIR with cvg_compare_mpi on MPI_COMM_WORLD (c_api.sh
 * compares the two); then the error paths: a bad argument, and an output
 * directory that exists (found by rank 0 only), return the same status on
 * every rank, the latter with "rank 0: " in cvg_last_error(). */
#include <stdio.h>
#include <string.h>

#include "convergent_mpi.h"

static int failures = 0;
static int rank = 0;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "rank %d: FAIL: %s (last error: %s)\n", rank, what, cvg_last_error());
        ++failures;
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc < 5) {
        fprintf(stderr, "usage: c_compare_mpi SINGLE_DIR DISTRIBUTED_DIR NET NET [NET...]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const char *const *nets = (const char *const *)(argv + 3);
    const int32_t n_nets = (int32_t)(argc - 3);
    cvg_options *opts = NULL;
    expect(cvg_options_create(&opts) == CVG_OK, "cvg_options_create");
    expect(cvg_options_set_int(opts, CVG_OPT_MI_SAMPLES, 3000) == CVG_OK, "MI samples");
    expect(cvg_options_set_int(opts, CVG_OPT_TOP_K, 4) == CVG_OK, "top k");
    expect(cvg_options_set_int(opts, CVG_OPT_SEED, 5) == CVG_OK, "seed");

    if (rank == 0) expect(cvg_compare(nets, n_nets, argv[1], opts) == CVG_OK, "cvg_compare (one process)");
    MPI_Barrier(MPI_COMM_WORLD);
    expect(cvg_compare_mpi(nets, n_nets, argv[2], opts, MPI_COMM_WORLD) == CVG_OK, "cvg_compare_mpi");

    /* The Fortran handle: the same run, refused because DISTRIBUTED_DIR now
     * exists; rank 0 finds it, every rank reports it. */
    const int status = cvg_compare_mpi_f(nets, n_nets, argv[2], opts, (int64_t)MPI_Comm_c2f(MPI_COMM_WORLD));
    expect(status == CVG_E_IO, "an existing output directory is CVG_E_IO on every rank");
    expect(strstr(cvg_last_error(), "cvg_compare_mpi_f: rank 0: ") != NULL, "the message names rank 0");
    expect(strstr(cvg_last_error(), argv[2]) != NULL, "the message names the directory");

    /* A bad argument: the same status on every rank. */
    expect(cvg_compare_mpi(nets, 1, argv[2], opts, MPI_COMM_WORLD) == CVG_E_INVALID_ARG, "one net");
    expect(cvg_compare_mpi(nets, n_nets, argv[2], opts, MPI_COMM_NULL) == CVG_E_INVALID_ARG, "MPI_COMM_NULL");
    cvg_options_destroy(opts);

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && total == 0) printf("ok: cvg_compare_mpi\n");
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
