// The CUDA context: one stream, the stream-ordered memory pool used as a caching
// allocator, and the probe that decides whether the cuda backend is usable.
#include <mutex>
#include <string>

#include "context.h"
#include "device_info.h"
#include "cufft_api.h"

namespace s4::cuda {
namespace {

std::once_flag gStreamOnce;
cudaStream_t gStream = nullptr;
cudaError_t gStreamError = cudaSuccess;

}  // namespace

void throwCuda(cudaError_t err, const char* what, const char* file, int line) {
  // Clear a sticky launch error so that the next call can report its own state.
  cudaGetLastError();
  std::string msg = std::string("CUDA error: ") + cudaGetErrorString(err) + " (" +
                    cudaGetErrorName(err) + ") in " + what + " at " + file + ":" + std::to_string(line);
  if (err == cudaErrorMemoryAllocation) throw s4::Error("out of GPU memory: " + msg, ErrorKind::Range);
  throw s4::Error(msg);
}

cudaStream_t stream() {
  std::call_once(gStreamOnce, [] {
    gStreamError = cudaStreamCreateWithFlags(&gStream, cudaStreamNonBlocking);
    if (gStreamError == cudaSuccess) {
      // Keep freed blocks in the pool instead of returning them to the driver at every
      // synchronization: this is what makes cudaMallocAsync a caching allocator.
      int device = 0;
      cudaMemPool_t pool;
      if (cudaGetDevice(&device) == cudaSuccess && cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
        unsigned long long threshold = ~0ULL;
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
      }
    }
  });
  if (gStreamError != cudaSuccess) throwCuda(gStreamError, "cudaStreamCreate", __FILE__, __LINE__);
  return gStream;
}

void* deviceAlloc(size_t bytes) {
  void* ptr = nullptr;
  cudaError_t err = cudaMallocAsync(&ptr, bytes, stream());
  if (err == cudaErrorMemoryAllocation) {
    // The pool may hold freed blocks of other sizes: give them back and try once more.
    cudaGetLastError();
    trimPool();
    err = cudaMallocAsync(&ptr, bytes, stream());
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::string msg = "could not allocate " + std::to_string(bytes) + " bytes on the GPU: " + cudaGetErrorString(err);
    if (err == cudaErrorMemoryAllocation) throw s4::Error("out of GPU memory: " + msg, ErrorKind::Range);
    throw s4::Error(msg);
  }
  return ptr;
}

void deviceFree(void* ptr) {
  if (!ptr) return;
  // Errors on free cannot be reported from a destructor; a failing free means the
  // context is already broken and the next op reports it.
  cudaFreeAsync(ptr, stream());
}

void synchronize() { S4_CUDA_CHECK(cudaStreamSynchronize(stream())); }

void trimPool() {
  int device = 0;
  cudaMemPool_t pool;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetDefaultMemPool(&pool, device) != cudaSuccess) return;
  cudaStreamSynchronize(stream());
  cudaMemPoolTrimTo(pool, 0);
}

PoolStats poolStats() {
  PoolStats s;
  int device = 0;
  cudaMemPool_t pool;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetDefaultMemPool(&pool, device) != cudaSuccess) return s;
  unsigned long long v = 0;
  if (cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &v) == cudaSuccess) s.reservedBytes = v;
  if (cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &v) == cudaSuccess) s.usedBytes = v;
  if (cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &v) == cudaSuccess) s.peakReservedBytes = v;
  if (cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &v) == cudaSuccess) s.peakUsedBytes = v;
  return s;
}

void resetPeakStats() {
  int device = 0;
  cudaMemPool_t pool;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetDefaultMemPool(&pool, device) != cudaSuccess) return;
  unsigned long long zero = 0;
  cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &zero);
  cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero);
}

DeviceInfo probe() {
  static std::once_flag once;
  static DeviceInfo info;
  std::call_once(once, [] {
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    info.runtimeVersion = runtime;
    cudaError_t err = cudaDriverGetVersion(&driver);
    info.driverVersion = err == cudaSuccess ? driver : 0;
    int count = 0;
    err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      cudaGetLastError();
      info.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
      return;
    }
    if (count == 0) {
      info.reason = "no CUDA device found";
      return;
    }
    info.deviceCount = count;
    cudaDeviceProp prop;
    err = cudaGetDeviceProperties(&prop, 0);
    if (err != cudaSuccess) {
      cudaGetLastError();
      info.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorString(err);
      return;
    }
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.totalMemory = prop.totalGlobalMem;
    info.multiprocessors = prop.multiProcessorCount;
    size_t freeBytes = 0, totalBytes = 0;
    err = cudaMemGetInfo(&freeBytes, &totalBytes);
    if (err != cudaSuccess) {
      cudaGetLastError();
      info.reason = std::string("the CUDA device cannot be used: ") + cudaGetErrorString(err);
      return;
    }
    info.freeMemory = freeBytes;
    if (prop.major < 8) {
      info.reason = "GPU " + info.name + " has compute capability " + std::to_string(prop.major) + "." +
                    std::to_string(prop.minor) + "; this build needs 8.0 or newer";
      return;
    }
    std::string why;
    if (!s4::cufft::available(&why)) {
      info.reason = why;
      return;
    }
    info.cufftVersion = s4::cufft::version();
    info.usable = true;
  });
  return info;
}

}  // namespace s4::cuda
