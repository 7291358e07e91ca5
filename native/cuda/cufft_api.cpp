// cuFFT through dlopen, with a plan cache (see cufft_api.h).
#include "cufft_api.h"

#include <map>
#include <mutex>
#include <tuple>

#include "context.h"
#include "../common/dl_library.h"

namespace s4::cufft {
namespace {

// The subset of cufft.h we use, declared from the public cuFFT API documentation.
using cufftHandle = int;
using cufftResult = int;
constexpr int CUFFT_SUCCESS = 0;
constexpr int CUFFT_R2C = 0x2a;
constexpr int CUFFT_C2R = 0x2c;

// The library and its entry points (resolved in api()).
struct Api {
  DlLibrary dl;
  cufftResult (*planMany)(cufftHandle*, int, int*, int*, int, int, int*, int, int, int, int) = nullptr;
  cufftResult (*execR2C)(cufftHandle, float*, float2*) = nullptr;
  cufftResult (*execC2R)(cufftHandle, float2*, float*) = nullptr;
  cufftResult (*setStream)(cufftHandle, cudaStream_t) = nullptr;
  cufftResult (*destroy)(cufftHandle) = nullptr;
  cufftResult (*getVersion)(int*) = nullptr;
};

const Api& api() {
  static std::once_flag once;
  static Api a;
  std::call_once(once, [] {
    DlLibrary& dl = a.dl;
    if (!dl.open("cuFFT", {"libcufft.so.12", "libcufft.so.11", "libcufft.so"},
                 "; install the CUDA toolkit's cuFFT or add its folder to LD_LIBRARY_PATH"))
      return;
    if (!dl.resolve(a.planMany, "cufftPlanMany") || !dl.resolve(a.execR2C, "cufftExecR2C") ||
        !dl.resolve(a.execC2R, "cufftExecC2R") || !dl.resolve(a.setStream, "cufftSetStream") ||
        !dl.resolve(a.destroy, "cufftDestroy") || !dl.resolve(a.getVersion, "cufftGetVersion"))
      return;
  });
  return a;
}

const Api& require() {
  const Api& a = api();
  if (!a.dl.lib) throw s4::Error(a.dl.error);
  return a;
}

[[noreturn]] void throwCufft(cufftResult r, const char* what) {
  throw s4::Error(std::string("cuFFT error ") + std::to_string(r) + " in " + what);
}

using Key = std::tuple<int, int, int, long long, long long>;  // type, n, batch, idist, odist
std::mutex gPlanMu;
std::map<Key, cufftHandle> gPlans;

cufftHandle plan(int type, int n, int batch, long long idist, long long odist) {
  const Api& a = require();
  if (idist > INT32_MAX || odist > INT32_MAX) throw s4::Error("cuFFT plan: signal distance exceeds 2^31");
  Key key{type, n, batch, idist, odist};
  std::lock_guard<std::mutex> lock(gPlanMu);
  auto it = gPlans.find(key);
  if (it != gPlans.end()) return it->second;
  cufftHandle h = 0;
  int dims[1] = {n};
  cufftResult r = a.planMany(&h, 1, dims, dims, 1, static_cast<int>(idist), dims, 1, static_cast<int>(odist), type, batch);
  if (r != CUFFT_SUCCESS) {
    if (r == 2 /* CUFFT_ALLOC_FAILED */) throw s4::Error("out of GPU memory while creating a cuFFT plan", ErrorKind::Range);
    throwCufft(r, "cufftPlanMany");
  }
  r = a.setStream(h, s4::cuda::stream());
  if (r != CUFFT_SUCCESS) {
    a.destroy(h);
    throwCufft(r, "cufftSetStream");
  }
  gPlans.emplace(key, h);
  return h;
}

}  // namespace

bool available(std::string* why) {
  const Api& a = api();
  if (!a.dl.lib && why) *why = a.dl.error;
  return a.dl.lib != nullptr;
}

int version() {
  const Api& a = api();
  if (!a.dl.lib) return -1;
  int v = -1;
  a.getVersion(&v);
  return v;
}

void r2c(int n, int batch, const float* in, long long idist, float2* out, long long odist) {
  cufftHandle h = plan(CUFFT_R2C, n, batch, idist, odist);
  cufftResult r = require().execR2C(h, const_cast<float*>(in), out);
  if (r != CUFFT_SUCCESS) throwCufft(r, "cufftExecR2C");
}

void c2r(int n, int batch, const float2* in, long long idist, float* out, long long odist) {
  cufftHandle h = plan(CUFFT_C2R, n, batch, idist, odist);
  cufftResult r = require().execC2R(h, const_cast<float2*>(in), out);
  if (r != CUFFT_SUCCESS) throwCufft(r, "cufftExecC2R");
}

void destroyPlans() {
  const Api& a = api();
  std::lock_guard<std::mutex> lock(gPlanMu);
  if (a.dl.lib)
    for (auto& kv : gPlans) a.destroy(kv.second);
  gPlans.clear();
}

}  // namespace s4::cufft
