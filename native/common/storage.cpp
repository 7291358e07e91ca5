// Allocation for both devices, with live counts for s4.memory(). Host buffers are
// 64-byte aligned so CPU kernels can use vector loads, from the host block cache
// (host_cache.h); device buffers come from the caching allocator in cuda/allocator.cu
// (declared in device_alloc.h).
#include "storage.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "device_alloc.h"
#include "error.h"
#include "host_cache.h"

namespace s4 {
namespace {

std::atomic<long long> gBuffers[2];
std::atomic<long long> gBytes[2];

}  // namespace

Storage::Storage(Device device, size_t bytes) : device_(device), bytes_(bytes), data_(nullptr) {
  size_t request = bytes == 0 ? 1 : bytes;
  if (device == Device::CPU) {
    data_ = hostAlloc(request);
    if (!data_) failRange("out of host memory: could not allocate " + std::to_string(bytes) + " bytes");
  } else {
#ifdef S4_WITH_CUDA
    data_ = cuda::deviceAlloc(request);
#else
    fail("this build of s4-cuda has no CUDA support (it was compiled without nvcc)");
#endif
  }
  int d = static_cast<int>(device);
  gBuffers[d] += 1;
  gBytes[d] += static_cast<long long>(bytes);
}

Storage::~Storage() {
  if (device_ == Device::CPU) {
    hostFree(data_);
  } else {
#ifdef S4_WITH_CUDA
    cuda::deviceFree(data_);
#endif
  }
  int d = static_cast<int>(device_);
  gBuffers[d] -= 1;
  gBytes[d] -= static_cast<long long>(bytes_);
}

DeviceMemoryStats memoryStats(Device device) {
  int d = static_cast<int>(device);
  return DeviceMemoryStats{gBuffers[d].load(), gBytes[d].load()};
}

}  // namespace s4
