// MPI, BLACS and ScaLAPACK for Swift. No stable API: use DistributedUnlearning.
//
// MPI's predefined handles are macros over globals that Swift cannot import;
// the static inline functions below return them. ScaLAPACK and BLACS ship no
// C header: the prototypes of the routines the engine calls are declared here
// (Fortran routines take every argument by pointer; integers are 32-bit).
#ifndef MUSO_CMPI_SHIM_H
#define MUSO_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm muso_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype muso_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype muso_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype muso_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op muso_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op muso_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op muso_mpi_min(void) { return MPI_MIN; }
static inline MPI_Status *muso_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline void *muso_mpi_in_place(void) { return MPI_IN_PLACE; }

// BLACS (C interface).
void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_get(int context, int what, int *value);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myprow, int *mypcol);
void Cblacs_gridexit(int context);
void Cblacs_exit(int notDone);

// ScaLAPACK tools.
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);

// ScaLAPACK / PBLAS routines.
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, int *info);
void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia, const int *ja,
              const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info);
void pdtrmm_(const char *side, const char *uplo, const char *transa, const char *diag, const int *m, const int *n,
             const double *alpha, const double *a, const int *ia, const int *ja, const int *desca,
             double *b, const int *ib, const int *jb, const int *descb);
double pdlansy_(const char *norm, const char *uplo, const int *n, const double *a, const int *ia, const int *ja,
                const int *desca, double *work);
void pdpocon_(const char *uplo, const int *n, const double *a, const int *ia, const int *ja, const int *desca,
              const double *anorm, double *rcond, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja, const int *desca,
               double *b, const int *ib, const int *jb, const int *descb, const int *ictxt);
#endif
