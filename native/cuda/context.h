// Host-side CUDA context shared by every CUDA kernel file: the one stream all work is
// ordered on, error checks, stream-ordered workspace and the device probe.
// Include only from .cu files and from binding code compiled with S4_WITH_CUDA.
#pragma once
#include <cuda_runtime.h>
#include <cstddef>
#include <string>

#include "../common/device_alloc.h"
#include "../common/error.h"

namespace s4::cuda {

// The stream every op is issued on (created on first use on the current device).
cudaStream_t stream();

[[noreturn]] void throwCuda(cudaError_t err, const char* what, const char* file, int line);

#define S4_CUDA_CHECK(expr)                                                  \
  do {                                                                      \
    cudaError_t s4_err_ = (expr);                                           \
    if (s4_err_ != cudaSuccess) ::s4::cuda::throwCuda(s4_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Call after every kernel launch: turns launch-configuration errors into exceptions that
// name the launch (`name` is the op or kernel, a C string).
#define S4_CUDA_CHECK_LAUNCH(name)                                                     \
  do {                                                                                 \
    cudaError_t s4_err_ = cudaGetLastError();                                          \
    if (s4_err_ != cudaSuccess) ::s4::cuda::throwCuda(s4_err_, name, __FILE__, __LINE__); \
  } while (0)

// deviceAlloc / deviceFree (common/device_alloc.h): device memory from the stream-ordered
// pool (cudaMallocAsync). Freed memory stays in size-class free lists for reuse without a
// CUDA call; see allocator.cu.

// Scratch memory for the duration of one op, released in stream order.
class Workspace {
 public:
  explicit Workspace(size_t bytes) : ptr_(bytes ? deviceAlloc(bytes) : nullptr) {}
  ~Workspace() { if (ptr_) deviceFree(ptr_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }
 private:
  void* ptr_;
};

inline unsigned blocksFor(long long n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace s4::cuda
