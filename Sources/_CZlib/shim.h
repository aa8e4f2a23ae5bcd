// zlib, for reading gzip-compressed IDX files and for CRC-32 checksums.
#ifndef MUSO_CZLIB_SHIM_H
#define MUSO_CZLIB_SHIM_H
#include <zlib.h>
#endif
