// NCCL, opened at run time with dlopen like cuFFT (cufft_api.h), so the addon loads on
// machines without it: the file S4_NCCL_PATH names when it is set, else libnccl.so.2, then
// libnccl.so. Only the entry points we use are declared, in our own code, with the types of
// NCCL's public API (nccl.h), because the build machine need not have NCCL headers.
// NCCL 2.14 or newer is required: it brought the non-blocking communicators (ncclConfig_t's
// `blocking`), ncclCommFinalize and ncclGetLastError, which the communicator (nccl_comm.h)
// relies on to time out instead of hanging; ncclAvg (2.10) comes with it.
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace s4::nccl {

constexpr size_t kUniqueIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES
using UniqueId = std::array<uint8_t, kUniqueIdBytes>;

// ncclComm_t: an opaque pointer.
struct Comm;
using CommPtr = Comm*;

// ncclResult_t (a C enum, passed as int).
enum Result : int {
  kSuccess = 0,
  kUnhandledCudaError = 1,
  kSystemError = 2,
  kInternalError = 3,
  kInvalidArgument = 4,
  kInvalidUsage = 5,
  kRemoteError = 6,
  kInProgress = 7,
  kTimeout = 8,
};

// ncclRedOp_t and ncclDataType_t values we use.
constexpr int kOpSum = 0;
constexpr int kOpAvg = 4;
constexpr int kFloat32 = 7;

// ncclConfig_t as NCCL 2.14 defined it (its first four fields ever since). NCCL copies
// `size` bytes of a config over its defaults and resets the fields newer than `version`, so
// this struct is a valid config for every NCCL >= 2.14; we set only `blocking`.
struct Config {
  size_t size = sizeof(Config);
  unsigned int magic = 0xcafebeef;  // NCCL_API_MAGIC
  unsigned int version = 21400;     // NCCL_VERSION(2, 14, 0)
  int blocking = INT32_MIN;         // NCCL_CONFIG_UNDEF_INT
};

// The library's entry points (resolved once, on first use).
struct Api {
  Result (*getVersion)(int* version) = nullptr;
  Result (*getUniqueId)(UniqueId* id) = nullptr;
  Result (*commInitRankConfig)(CommPtr* comm, int nranks, UniqueId id, int rank, Config* config) = nullptr;
  Result (*commGetAsyncError)(CommPtr comm, Result* asyncError) = nullptr;
  Result (*commFinalize)(CommPtr comm) = nullptr;
  Result (*commDestroy)(CommPtr comm) = nullptr;
  Result (*commAbort)(CommPtr comm) = nullptr;
  Result (*allReduce)(const void* send, void* recv, size_t count, int datatype, int op, CommPtr comm, cudaStream_t stream) = nullptr;
  Result (*broadcast)(const void* send, void* recv, size_t count, int datatype, int root, CommPtr comm, cudaStream_t stream) = nullptr;
  Result (*groupStart)() = nullptr;
  Result (*groupEnd)() = nullptr;
  const char* (*getErrorString)(Result result) = nullptr;
  const char* (*getLastError)(CommPtr comm) = nullptr;
};

// Whether the library loaded, and what it is.
struct LoadInfo {
  bool loaded = false;
  int versionCode = 0;   // ncclGetVersion's code, e.g. 23007; 0 when unknown
  std::string version;   // e.g. "2.30.7"; empty when unknown
  std::string path;      // the file that loaded; empty when none did
  std::string reason;    // why NCCL is unusable; empty when loaded
};

// Loads NCCL on the first call (later calls answer the same).
const LoadInfo& info();
// The entry points; throws s4::Error "<fn>: NCCL is unavailable: <reason>" when it did not load.
const Api& require(const char* fn);

// "2.30.7" from a version code (codes below 2.9 were major*1000 + minor*100 + patch).
std::string versionString(int code);

// A fresh unique id for a new communicator (ncclGetUniqueId; needs no GPU).
UniqueId uniqueId(const char* fn);

// NCCL's words for a result, with the communicator's last error message when there is one.
std::string describe(const Api& api, Result r, CommPtr comm);

}  // namespace s4::nccl
