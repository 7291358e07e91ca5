// The CUDA context: one stream, the settings of the stream-ordered memory pool under the
// caching allocator (allocator.cu), and the probe that decides whether the cuda backend is usable.
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
      // Blocks the caching allocator gives back (emptyCache, out of memory) stay in the
      // pool until it is trimmed, instead of going to the driver at every synchronization.
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

void synchronize() { S4_CUDA_CHECK(cudaStreamSynchronize(stream())); }

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
