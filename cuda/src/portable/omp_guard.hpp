#pragma once
#if !defined(THRUST_DEVICE_SYSTEM) || THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_OMP
#error "thrust_omp_*.cpp must be compiled with THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP"
#endif
