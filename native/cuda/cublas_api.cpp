// cuBLAS through dlopen (see cublas_api.h).
#include "cublas_api.h"

#include <cstdlib>
#include <mutex>

#include "context.h"
#include "../common/dl_library.h"

namespace s4::cublas {
namespace {

// The subset of cublas_api.h we use, declared from the public cuBLAS documentation.
struct cublasContext;
using cublasHandle_t = cublasContext*;
using cublasStatus_t = int;
using cublasOperation_t = int;
using cublasMath_t = int;
constexpr cublasStatus_t CUBLAS_STATUS_SUCCESS = 0;
constexpr cublasStatus_t CUBLAS_STATUS_ALLOC_FAILED = 3;
constexpr cublasOperation_t CUBLAS_OP_N = 0;
constexpr cublasOperation_t CUBLAS_OP_T = 1;
constexpr cublasMath_t CUBLAS_DEFAULT_MATH = 0;
constexpr cublasMath_t CUBLAS_TF32_TENSOR_OP_MATH = 3;

// The library and its entry points (resolved in api()).
struct Api {
  DlLibrary dl;
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;
  cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t) = nullptr;
  cublasStatus_t (*getVersion)(cublasHandle_t, int*) = nullptr;
  cublasStatus_t (*setMathMode)(cublasHandle_t, cublasMath_t) = nullptr;
  cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float*,
                          const float*, int, const float*, int, const float*, float*, int) = nullptr;
  cublasStatus_t (*sgemmStridedBatched)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                        const float*, const float*, int, long long, const float*, int, long long,
                                        const float*, float*, int, long long, int) = nullptr;
  cublasHandle_t handle = nullptr;
  int version = -1;
  bool tf32 = false;  // the handle's math mode (set per call from sgemm's tf32)
};

std::mutex gMu;

Api& api() {
  static std::once_flag once;
  static Api a;
  std::call_once(once, [] {
    const char* env = std::getenv("S4_CUBLAS");
    if (env && std::string(env) == "0") {
      a.dl.error = "cuBLAS disabled by S4_CUBLAS=0";
      return;
    }
    DlLibrary& dl = a.dl;
    if (!dl.open("cuBLAS", {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"})) return;
    if (!dl.resolve(a.create, "cublasCreate_v2") || !dl.resolve(a.destroy, "cublasDestroy_v2") ||
        !dl.resolve(a.setStream, "cublasSetStream_v2") || !dl.resolve(a.getVersion, "cublasGetVersion_v2") ||
        !dl.resolve(a.setMathMode, "cublasSetMathMode") || !dl.resolve(a.sgemm, "cublasSgemm_v2") ||
        !dl.resolve(a.sgemmStridedBatched, "cublasSgemmStridedBatched"))
      return;
    cublasStatus_t st = a.create(&a.handle);
    if (st != CUBLAS_STATUS_SUCCESS) {
      a.dl.error = "cublasCreate failed with status " + std::to_string(st);
      a.handle = nullptr;
      return;  // keep the library loaded; the GEMM falls back to our kernel
    }
    a.setMathMode(a.handle, CUBLAS_DEFAULT_MATH);
    int v = -1;
    if (a.getVersion(a.handle, &v) == CUBLAS_STATUS_SUCCESS) a.version = v;
  });
  return a;
}

[[noreturn]] void throwCublas(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_ALLOC_FAILED)
    throw s4::Error(std::string("out of GPU memory in ") + what, ErrorKind::Range);
  throw s4::Error(std::string("cuBLAS error ") + std::to_string(st) + " in " + what);
}

}  // namespace

bool available(std::string* why) {
  Api& a = api();
  const bool ok = a.dl.lib && a.handle;
  if (!ok && why) *why = a.dl.error;
  return ok;
}

int version() { return available() ? api().version : -1; }

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
           const float* A, int lda, long long strideA,
           const float* B, int ldb, long long strideB, float beta,
           float* C, int ldc, long long strideC, int batch, bool tf32) {
  Api& a = api();
  if (!a.dl.lib || !a.handle) throw s4::Error("cuBLAS is not available: " + a.dl.error);
  std::lock_guard<std::mutex> lock(gMu);
  cublasStatus_t st = a.setStream(a.handle, s4::cuda::stream());
  if (st != CUBLAS_STATUS_SUCCESS) throwCublas(st, "cublasSetStream");
  if (tf32 != a.tf32) {
    st = a.setMathMode(a.handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    if (st != CUBLAS_STATUS_SUCCESS) throwCublas(st, "cublasSetMathMode");
    a.tf32 = tf32;
  }
  // cuBLAS is column-major: a row-major [R, C] matrix with leading dimension ld is the
  // column-major [C, R] matrix with the same ld, i.e. its transpose. So the row-major
  // product C = op(A) op(B) is the column-major product C^T = op(B)^T op(A)^T: swap the
  // operands and the M/N sizes, keep each operand's transpose flag.
  const cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (batch == 1) {
    st = a.sgemm(a.handle, opB, opA, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) throwCublas(st, "cublasSgemm");
  } else {
    st = a.sgemmStridedBatched(a.handle, opB, opA, N, M, K, &alpha, B, ldb, strideB, A, lda, strideA, &beta, C,
                               ldc, strideC, batch);
    if (st != CUBLAS_STATUS_SUCCESS) throwCublas(st, "cublasSgemmStridedBatched");
  }
}

void shutdown() {
  Api& a = api();
  std::lock_guard<std::mutex> lock(gMu);
  if (a.handle) a.destroy(a.handle);
  a.handle = nullptr;
  a.dl.error = "cuBLAS was shut down";
}

}  // namespace s4::cublas
