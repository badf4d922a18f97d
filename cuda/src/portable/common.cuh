// Shared definitions for the portable Thrust logic. Each file in portable/
// is included by cuda_backend.cu (device system CUDA) and by thrust_omp.cpp
// (device system OMP); CVG_PORTABLE_NS names the namespace that keeps the
// two instantiations apart when both are linked into one program.
#pragma once

#ifndef CVG_PORTABLE_NS
#error "define CVG_PORTABLE_NS before including a portable/*.cuh file"
#endif

#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>

#if defined(__CUDACC__)
#define CVG_HD __host__ __device__
#else
#define CVG_HD
#endif
