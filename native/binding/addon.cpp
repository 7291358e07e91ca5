// Module entry: the buffer class, memory transfer, device information (the GEMM in use
// included), and every op declared with S4_OP (exported by op_spec.cpp's exportOps).
#include <napi.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../common/error.h"
#include "../common/host_cache.h"
#include "../common/parallel.h"
#include "../cpu/fftw_api.h"
#include "../cpu/gemm.h"
#include "args.h"
#include "async.h"
#include "buffer.h"
#include "cpu_stream.h"
#include "op_spec.h"
#include "js_function.h"
#ifdef S4_WITH_CUDA
#include "../cuda/context.h"
#include "../cuda/conv_long.h"
#include "../cuda/cufft_api.h"
#include "../cuda/device_info.h"
#include "../cuda/gemm.h"
#endif

#ifndef S4_VERSION
#define S4_VERSION "0.0.0"
#endif

namespace s4::binding {

void exportGraph(Napi::Env env, Napi::Object exports);  // graph_handle.cpp
void exportNccl(Napi::Env env, Napi::Object exports);   // nccl.cpp
void exportAdamwMulti(Napi::Env env, Napi::Object exports);  // adamw_multi.cpp

namespace {

void requireCuda(const char* fn) {
#ifdef S4_WITH_CUDA
  cuda::DeviceInfo info = cuda::probe();
  if (!info.usable) fail(std::string(fn) + ": the cuda backend is unavailable: " + info.reason);
#else
  fail(std::string(fn) + ": the cuda backend is unavailable: this build of s4-cuda was compiled without CUDA");
#endif
}

// Copies bytes between any two devices; waits for the copy where the host reads it.
void copyBytes(void* dst, Device dstDev, const void* src, Device srcDev, size_t bytes) {
  if (bytes == 0) return;
  if (dstDev == Device::CPU && srcDev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef S4_WITH_CUDA
  cudaMemcpyKind kind = srcDev == Device::CPU ? cudaMemcpyHostToDevice
                        : dstDev == Device::CPU ? cudaMemcpyDeviceToHost
                                                : cudaMemcpyDeviceToDevice;
  S4_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cuda::stream()));
  if (dstDev == Device::CPU) S4_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
#else
  fail("cuda buffers cannot exist in a build without CUDA");
#endif
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Args a(info, "alloc", 2);
  Device dev = a.device(0, "device");
  int64_t bytes = a.integer(1, "bytes", 0, int64_t(1) << 46);
  if (dev == Device::CUDA) requireCuda("alloc");
  return BufferHandle::wrap(info.Env(), std::make_shared<Storage>(dev, static_cast<size_t>(bytes)));
}

// upload(device, Float32Array) -> buffer holding a copy of the array.
Napi::Value upload(const Napi::CallbackInfo& info) {
  Args a(info, "upload", 2);
  Device dev = a.device(0, "device");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    failType("upload: argument 'data' must be a Float32Array");
  auto arr = info[1].As<Napi::Float32Array>();
  if (dev == Device::CUDA) requireCuda("upload");
  auto storage = std::make_shared<Storage>(dev, arr.ByteLength());
  copyBytes(storage->data(), dev, arr.Data(), Device::CPU, arr.ByteLength());
  return BufferHandle::wrap(info.Env(), storage);
}

// write(buffer, Float32Array): overwrites the whole buffer.
Napi::Value write(const Napi::CallbackInfo& info) {
  Args a(info, "write", 2);
  Storage& dst = a.buffer(0, "buffer");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    failType("write: argument 'data' must be a Float32Array");
  auto arr = info[1].As<Napi::Float32Array>();
  if (arr.ByteLength() != dst.bytes())
    failRange("write: argument 'data' has " + std::to_string(arr.ByteLength()) + " bytes but the buffer holds " +
              std::to_string(dst.bytes()));
  if (dst.device() == Device::CPU) syncCpuWork("write");
  copyBytes(dst.data(), dst.device(), arr.Data(), Device::CPU, arr.ByteLength());
  return info.Env().Undefined();
}

Napi::Value download(const Napi::CallbackInfo& info) {
  Args a(info, "download", 1);
  Storage& src = a.buffer(0, "buffer");
  if (src.device() == Device::CPU) syncCpuWork("download");
  auto out = Napi::Float32Array::New(info.Env(), src.bytes() / sizeof(float));
  copyBytes(out.Data(), Device::CPU, src.data(), src.device(), out.ByteLength());
  return out;
}

// copy(dst, src): same byte count, any devices.
Napi::Value copy(const Napi::CallbackInfo& info) {
  Args a(info, "copy", 2);
  StoragePtr dst = a.bufferPtr(0, "dst");
  StoragePtr src = a.bufferPtr(1, "src");
  if (dst->bytes() != src->bytes())
    failRange("copy: argument 'dst' holds " + std::to_string(dst->bytes()) + " bytes but 'src' holds " +
              std::to_string(src->bytes()));
  if (CpuProgram* p = recordingProgram(); p && dst->device() == Device::CPU && src->device() == Device::CPU) {
    // Inside an async call a host copy is one more recorded task (clone, reshape).
    p->keep.push_back(dst);
    p->keep.push_back(src);
    Storage* d = dst.get();
    Storage* s = src.get();
    p->tasks.push_back([d, s] { std::memcpy(d->data(), s->data(), s->bytes()); });
    return info.Env().Undefined();
  }
  if (dst->device() == Device::CPU || src->device() == Device::CPU) syncCpuWork("copy");
  copyBytes(dst->data(), dst->device(), src->data(), src->device(), src->bytes());
  return info.Env().Undefined();
}

Napi::Value cudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#ifdef S4_WITH_CUDA
  o.Set("compiled", true);
  cuda::DeviceInfo d = cuda::probe();
  o.Set("usable", d.usable);
  o.Set("reason", d.usable ? env.Null() : Napi::String::New(env, d.reason));
  o.Set("deviceCount", d.deviceCount);
  o.Set("name", d.name.empty() ? env.Null() : Napi::String::New(env, d.name));
  o.Set("computeCapability", d.major ? Napi::String::New(env, std::to_string(d.major) + "." + std::to_string(d.minor)) : env.Null());
  o.Set("totalMemory", static_cast<double>(d.totalMemory));
  o.Set("freeMemory", static_cast<double>(d.freeMemory));
  o.Set("multiprocessors", d.multiprocessors);
  o.Set("runtimeVersion", d.runtimeVersion);
  o.Set("driverVersion", d.driverVersion);
  o.Set("cufftVersion", d.cufftVersion);
#else
  o.Set("compiled", false);
  o.Set("usable", false);
  o.Set("reason", "this build of s4-cuda was compiled without CUDA (nvcc was not found at build time, or S4_CUDA=OFF)");
#endif
  return o;
}

Napi::Value memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  for (Device d : {Device::CPU, Device::CUDA}) {
    DeviceMemoryStats s = memoryStats(d);
    Napi::Object e = Napi::Object::New(env);
    e.Set("buffers", static_cast<double>(s.liveBuffers));
    e.Set("bytes", static_cast<double>(s.liveBytes));
    if (d == Device::CPU) {
      const HostCacheStats h = hostCacheStats();
      e.Set("cachedBytes", static_cast<double>(h.idleBytes));
      e.Set("peakReservedBytes", static_cast<double>(h.peakBytes));
    }
#ifdef S4_WITH_CUDA
    if (d == Device::CUDA && cuda::probe().usable) {
      cuda::PoolStats p = cuda::poolStats();
      e.Set("reservedBytes", static_cast<double>(p.reservedBytes));
      e.Set("peakReservedBytes", static_cast<double>(p.peakReservedBytes));
      e.Set("peakUsedBytes", static_cast<double>(p.peakUsedBytes));
    }
#endif
    o.Set(deviceName(d), e);
  }
  return o;
}

Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  hostTrim();
#ifdef S4_WITH_CUDA
  if (cuda::probe().usable) cuda::trimPool();
#endif
  return info.Env().Undefined();
}

Napi::Value resetPeakMemory(const Napi::CallbackInfo& info) {
#ifdef S4_WITH_CUDA
  if (cuda::probe().usable) cuda::resetPeakStats();
#endif
  return info.Env().Undefined();
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
#ifdef S4_WITH_CUDA
  if (cuda::probe().usable) cuda::synchronize();
#endif
  return info.Env().Undefined();
}

// Waits for queued GPU work on a worker thread.
class SyncWorker : public Napi::AsyncWorker {
 public:
  explicit SyncWorker(Napi::Env env) : Napi::AsyncWorker(env, "s4.sync"), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
#ifdef S4_WITH_CUDA
    try {
      if (cuda::probe().usable) cuda::synchronize();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
#endif
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
};

Napi::Value synchronizeAsync(const Napi::CallbackInfo& info) {
  auto* w = new SyncWorker(info.Env());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// setFftConvPath('fused' | 'cufft'): the transform of the CUDA fftConv and its backward
// for the ops queued afterwards (native/cuda/conv_long.h). The CPU backend has one path;
// a build without CUDA checks the argument and has nothing to switch.
Napi::Value setFftConvPath(const Napi::CallbackInfo& info) {
  Args a(info, "setFftConvPath", 1);
  const std::string name = a.string(0, "path");
  if (name != "fused" && name != "cufft")
    failRange("setFftConvPath: argument 'path' must be 'fused' or 'cufft' (got '" + name + "')");
#ifdef S4_WITH_CUDA
  cuda::setFftConvPath(cuda::parseFftConvPath(name, "setFftConvPath: argument 'path'"));
#endif
  return info.Env().Undefined();
}

// nnInfo(device): which GEMM (and on the CPU which FFT) the ops of that device use. 'cpu' ->
// { gemm: 'builtin', kernel: 'avx2' | 'generic', fft: 'fftw' | 'builtin', fftVersion,
// fftReason (why not FFTW, or null), convFft: 'fftw-float' | 'fftw' | 'builtin' }; 'cuda' -> { gemm: 'cublas' | '3xtf32' |
// 'builtin' (the engine in use), mode (the GEMM mode asked for: 'cublas' | '3xtf32' | 'tf32' | 'builtin'), reason (why the
// engine is not the one the mode asks for, or null), cublasVersion, tf32,
// fftConv: 'fused' | 'cufft' (null without CUDA) }.
Napi::Value nnInfo(const Napi::CallbackInfo& info) {
  Args a(info, "nnInfo", 1);
  const Device device = a.device(0, "device");
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (device == Device::CPU) {
    o.Set("gemm", "builtin");
    o.Set("kernel", cpu::gemmKernelName());
    std::string whyNot;
    const bool fftw = cpu::fftw::available(&whyNot);
    o.Set("fft", fftw ? "fftw" : "builtin");
    o.Set("fftVersion", fftw ? Napi::Value(Napi::String::New(env, cpu::fftw::version())) : env.Null());
    o.Set("fftReason", fftw ? env.Null() : Napi::Value(Napi::String::New(env, whyNot)));
    // The FFT convolution's transform: float FFTW where its library is there, else double.
    o.Set("convFft", cpu::fftw::available<float>() ? "fftw-float" : fftw ? "fftw" : "builtin");
    return o;
  }
#ifdef S4_WITH_CUDA
  std::string why;
  o.Set("gemm", cuda::gemmBackend(&why));
  o.Set("mode", cuda::gemmMode());
  o.Set("reason", why.empty() ? env.Null() : Napi::Value(Napi::String::New(env, why)));
  o.Set("cublasVersion", cuda::cublasVersion());
  o.Set("tf32", cuda::gemmTf32());
  o.Set("fftConv", cuda::fftConvPathName(cuda::fftConvPath()));
#else
  o.Set("gemm", env.Null());
  o.Set("mode", env.Null());
  o.Set("reason", "built without CUDA");
  o.Set("cublasVersion", -1);
  o.Set("tf32", false);
  o.Set("fftConv", env.Null());
#endif
  return o;
}

// setGemmBackend(name): the CUDA GEMM mode of this process (native/cuda/gemm.h), 'cublas' |
// '3xtf32' | 'tf32' | 'builtin'; it replaces what S4_GEMM said and applies to products
// queued from now on.
Napi::Value setGemmBackend(const Napi::CallbackInfo& info) {
  Args a(info, "setGemmBackend", 1);
  const std::string name = a.string(0, "name");
#ifdef S4_WITH_CUDA
  if (!cuda::setGemmMode(name))
    failType("setGemmBackend: argument 'name' must be " + cuda::gemmModeList() + " (got '" + name + "')");
#else
  fail("setGemmBackend: the cuda backend is unavailable: this build of s4-cuda was compiled without CUDA");
#endif
  return info.Env().Undefined();
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", S4_VERSION);
  o.Set("napiVersion", NAPI_VERSION);
#ifdef S4_WITH_CUDA
  o.Set("cuda", true);
  o.Set("cudaArchitectures", S4_CUDA_ARCHS);
#else
  o.Set("cuda", false);
#endif
  o.Set("cpuThreads", cpu::threadCount());
  return o;
}

void exportCore(Napi::Env env, Napi::Object exports) {
  BufferHandle::define(env, exports);
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> core[] = {
      {"alloc", alloc},
      {"upload", upload},
      {"write", write},
      {"download", download},
      {"copy", copy},
      {"cudaInfo", cudaInfo},
      {"memory", memory},
      {"emptyCache", emptyCache},
      {"resetPeakMemory", resetPeakMemory},
      {"synchronize", synchronize},
      {"synchronizeAsync", synchronizeAsync},
      {"buildInfo", buildInfo},
      {"nnInfo", nnInfo},
      {"setGemmBackend", setGemmBackend},
      {"setFftConvPath", setFftConvPath},
  };
  for (const auto& [name, fn] : core) exports.Set(name, makeFunction(env, name, fn));
  exportGraph(env, exports);
  exportAsync(env, exports);
  exportNccl(env, exports);
  exportAdamwMulti(env, exports);
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exportCore(env, exports);
  exportOps(env, exports);
#ifdef S4_WITH_CUDA
  // Plans hold device memory; free them while the CUDA context is still alive.
  napi_add_env_cleanup_hook(env, [](void*) { s4::cufft::destroyPlans(); }, nullptr);
#endif
  return exports;
}

}  // namespace
}  // namespace s4::binding

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return s4::binding::init(env, exports); }

NODE_API_MODULE(s4, InitModule)
