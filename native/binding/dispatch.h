// S4_DISPATCH(device, fn(args...)) calls s4::cpu::fn or s4::cuda::fn by the device of
// the buffers. In a build without CUDA only the CPU branch exists (cuda buffers cannot
// be created there, so it is never wrong).
#pragma once
#include "../common/device.h"

#ifdef S4_WITH_CUDA
#define S4_DISPATCH(dev, call)             \
  do {                                     \
    if ((dev) == ::s4::Device::CPU)        \
      ::s4::cpu::call;                     \
    else                                   \
      ::s4::cuda::call;                    \
  } while (0)
#else
#define S4_DISPATCH(dev, call) ::s4::cpu::call
#endif
