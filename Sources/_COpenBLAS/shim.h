// The C interface this package uses: CBLAS (OpenBLAS) and LAPACKE.
// Debian's OpenBLAS ships cblas.h on the default include path and lapacke.h
// in /usr/include; its LAPACKE symbols live in liblapacke.
#ifndef MUSO_COPENBLAS_SHIM_H
#define MUSO_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
