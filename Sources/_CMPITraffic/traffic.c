// A PMPI profiling layer: each MPI call that sends data is defined here,
// counts its bytes and calls the library's PMPI_ entry point. Because the
// executable defines these symbols, the dynamic linker binds ScaLAPACK's own
// calls (BLACS is inside libscalapack) to them too, so the counts include
// every byte ScaLAPACK sends, not only the engine's own collectives.
// Counters are per process; the engine is single-threaded in MPI calls
// (MPI_THREAD_FUNNELED), so plain integers suffice.
#include <mpi.h>
#include "traffic.h"

static struct muso_mpi_traffic traffic;

static int64_t bytes_of(int count, MPI_Datatype type) {
    int size = 0;
    PMPI_Type_size(type, &size);
    return (int64_t)count * (int64_t)size;
}

void muso_mpi_traffic_read(struct muso_mpi_traffic *out) { *out = traffic; }
void muso_mpi_traffic_reset(void) {
    struct muso_mpi_traffic zero = {0, 0, 0, 0};
    traffic = zero;
}

static void point(int count, MPI_Datatype type) {
    traffic.pointToPointBytes += bytes_of(count, type);
    traffic.pointToPointMessages += 1;
}

static void collective(int count, MPI_Datatype type) {
    traffic.collectiveBytes += bytes_of(count, type);
    traffic.collectiveCalls += 1;
}

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
    point(count, type);
    return PMPI_Send(buf, count, type, dest, tag, comm);
}

int MPI_Rsend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
    point(count, type);
    return PMPI_Rsend(buf, count, type, dest, tag, comm);
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request *request) {
    point(count, type);
    return PMPI_Isend(buf, count, type, dest, tag, comm, request);
}

int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
                 MPI_Comm comm, MPI_Status *status) {
    point(sendcount, sendtype);
    return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype,
                         source, recvtag, comm, status);
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
    int rank = 0;
    PMPI_Comm_rank(comm, &rank);
    if (rank == root) collective(count, type);
    return PMPI_Bcast(buf, count, type, root, comm);
}

int MPI_Reduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm) {
    collective(count, type);
    return PMPI_Reduce(sendbuf, recvbuf, count, type, op, root, comm);
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
    collective(count, type);
    return PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
}
