// NCCL through dlopen (see nccl_api.h).
#include "nccl_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "../common/dl_library.h"
#include "../common/error.h"

namespace s4::nccl {
namespace {

constexpr int kMinVersion = 21400;  // 2.14.0: non-blocking communicators, ncclCommFinalize

struct Loaded {
  DlLibrary dl;
  Api api;
  LoadInfo info;
};

// The file the library was loaded from, found through one of its symbols.
std::string pathOf(void* symbol, const char* fallback) {
  Dl_info where{};
  if (symbol && dladdr(symbol, &where) && where.dli_fname) return where.dli_fname;
  return fallback;
}

bool resolveAll(DlLibrary& dl, Api& a) {
  return dl.resolve(a.getUniqueId, "ncclGetUniqueId") && dl.resolve(a.commInitRankConfig, "ncclCommInitRankConfig") &&
         dl.resolve(a.commGetAsyncError, "ncclCommGetAsyncError") && dl.resolve(a.commFinalize, "ncclCommFinalize") &&
         dl.resolve(a.commDestroy, "ncclCommDestroy") && dl.resolve(a.commAbort, "ncclCommAbort") &&
         dl.resolve(a.allReduce, "ncclAllReduce") && dl.resolve(a.broadcast, "ncclBroadcast") &&
         dl.resolve(a.groupStart, "ncclGroupStart") && dl.resolve(a.groupEnd, "ncclGroupEnd") &&
         dl.resolve(a.getErrorString, "ncclGetErrorString") && dl.resolve(a.getLastError, "ncclGetLastError");
}

void load(Loaded& l) {
  DlLibrary& dl = l.dl;
  LoadInfo& info = l.info;
  const char* explicitPath = std::getenv("S4_NCCL_PATH");
  const bool opened = explicitPath && *explicitPath
                          ? dl.open("NCCL", {explicitPath}, "; S4_NCCL_PATH names this file")
                          : dl.open("NCCL", {"libnccl.so.2", "libnccl.so"},
                                    "; install NCCL (e.g. the nvidia-nccl-cu12 wheel), add its lib folder to "
                                    "LD_LIBRARY_PATH or set S4_NCCL_PATH to its libnccl.so.2");
  if (!opened) {
    info.reason = dl.error;
    return;
  }
  if (!dl.resolve(l.api.getVersion, "ncclGetVersion")) {
    info.reason = dl.error;
    return;
  }
  info.path = pathOf(reinterpret_cast<void*>(l.api.getVersion), explicitPath ? explicitPath : "libnccl.so.2");
  int code = 0;
  if (l.api.getVersion(&code) != kSuccess || code <= 0) {
    info.reason = "NCCL at " + info.path + " did not report its version (ncclGetVersion failed)";
    dlclose(dl.lib);
    dl.lib = nullptr;
    return;
  }
  info.versionCode = code;
  info.version = versionString(code);
  if (code < kMinVersion) {
    info.reason = "NCCL " + info.version + " at " + info.path +
                  " is too old: s4-cuda needs NCCL 2.14 or newer (non-blocking communicators, which can time out)";
    dlclose(dl.lib);
    dl.lib = nullptr;
    return;
  }
  if (!resolveAll(dl, l.api)) {
    info.reason = dl.error + " (" + info.path + ")";
    return;
  }
  info.loaded = true;
}

Loaded& loaded() {
  static std::once_flag once;
  static Loaded l;
  std::call_once(once, [] { load(l); });
  return l;
}

}  // namespace

const LoadInfo& info() { return loaded().info; }

const Api& require(const char* fn) {
  Loaded& l = loaded();
  if (!l.info.loaded) throw s4::Error(std::string(fn) + ": NCCL is unavailable: " + l.info.reason);
  return l.api;
}

std::string versionString(int code) {
  // NCCL_VERSION(X, Y, Z) is X*1000 + Y*100 + Z up to 2.8, X*10000 + Y*100 + Z from 2.9 on.
  const bool wide = code >= 20900;
  const int major = wide ? code / 10000 : code / 1000;
  const int rest = wide ? code % 10000 : code % 1000;
  return std::to_string(major) + "." + std::to_string(rest / 100) + "." + std::to_string(rest % 100);
}

UniqueId uniqueId(const char* fn) {
  const Api& a = require(fn);
  UniqueId id{};
  const Result r = a.getUniqueId(&id);
  if (r != kSuccess) throw s4::Error(std::string(fn) + ": ncclGetUniqueId failed: " + describe(a, r, nullptr));
  return id;
}

std::string describe(const Api& a, Result r, CommPtr comm) {
  std::string s = a.getErrorString(r);
  const char* last = a.getLastError(comm);
  if (last && *last) s += std::string(" (") + last + ")";
  return s;
}

}  // namespace s4::nccl
