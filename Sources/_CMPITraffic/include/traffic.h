// Byte counters of the MPI calls that send data (a PMPI profiling layer).
// No stable API: use DistributedUnlearning's `Traffic`.
#ifndef MUSO_CMPI_TRAFFIC_H
#define MUSO_CMPI_TRAFFIC_H
#include <stdint.h>

struct muso_mpi_traffic {
    /// Bytes this process passed to point-to-point sends (MPI_Send, Isend,
    /// Rsend, Sendrecv): what ScaLAPACK's BLACS moves.
    int64_t pointToPointBytes;
    int64_t pointToPointMessages;
    /// Payload bytes of collective calls (Bcast, Reduce, Allreduce) made by
    /// this process: the size of its own contribution, once per call.
    int64_t collectiveBytes;
    int64_t collectiveCalls;
};

void muso_mpi_traffic_read(struct muso_mpi_traffic *out);
void muso_mpi_traffic_reset(void);
#endif
