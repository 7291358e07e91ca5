// The host block cache (host_cache.h).
#include "host_cache.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace s4 {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kMinCached = size_t(64) << 10;

size_t capBytes() {
  static const size_t cap = [] {
    const char* env = std::getenv("S4_HOST_CACHE_MB");
    if (!env || !*env) return size_t(1024) << 20;
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    return end && *end == '\0' ? size_t(mb) << 20 : size_t(1024) << 20;
  }();
  return cap;
}

// 16 classes per power of two: at most 1/16 of a block is rounding.
size_t sizeClass(size_t bytes) {
  if (bytes < kMinCached) return (bytes + kAlign - 1) / kAlign * kAlign;
  size_t top = size_t(1) << (63 - __builtin_clzll(bytes));
  const size_t step = top / 16;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> idle;  // by class
  std::unordered_map<void*, size_t> live;               // cached-class blocks handed out
  long long idleBytes = 0, liveBytes = 0, peakBytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: buffers may be freed during exit
  return *c;
}

void releaseIdle(Cache& c) {
  for (auto& [cls, blocks] : c.idle)
    for (void* p : blocks) std::free(p);
  c.idle.clear();
  c.idleBytes = 0;
}

}  // namespace

void* hostAlloc(size_t bytes) {
  const size_t cls = sizeClass(bytes == 0 ? 1 : bytes);
  if (cls < kMinCached || capBytes() == 0) return std::aligned_alloc(kAlign, cls);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  void* p = nullptr;
  auto it = c.idle.find(cls);
  if (it != c.idle.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.idleBytes -= static_cast<long long>(cls);
  } else {
    p = std::aligned_alloc(kAlign, cls);
    if (!p) {
      // Idle blocks of other sizes may be what is missing.
      releaseIdle(c);
      p = std::aligned_alloc(kAlign, cls);
      if (!p) return nullptr;
    }
  }
  c.live.emplace(p, cls);
  c.liveBytes += static_cast<long long>(cls);
  if (c.liveBytes + c.idleBytes > c.peakBytes) c.peakBytes = c.liveBytes + c.idleBytes;
  return p;
}

void hostFree(void* ptr) {
  if (!ptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(ptr);
  if (it == c.live.end()) {
    std::free(ptr);  // a small block (never cached)
    return;
  }
  const size_t cls = it->second;
  c.live.erase(it);
  c.liveBytes -= static_cast<long long>(cls);
  if (static_cast<size_t>(c.idleBytes) + cls > capBytes()) {
    std::free(ptr);
    return;
  }
  c.idle[cls].push_back(ptr);
  c.idleBytes += static_cast<long long>(cls);
}

void hostTrim() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  releaseIdle(c);
}

HostCacheStats hostCacheStats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return HostCacheStats{c.idleBytes, c.peakBytes};
}

}  // namespace s4
