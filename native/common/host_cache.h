// Host memory for CPU buffers: 64-byte aligned blocks, with freed large blocks kept for
// reuse. A CPU op's output is usually a fresh buffer the size of its input; glibc serves
// such sizes (above its mmap threshold, 128 KiB and up) from new mappings, so every op
// touched fresh pages and paid a page fault per 4 KiB: about 45% of a CPU block forward at
// 16 x 32 x 784. Kept blocks are already mapped. Blocks of 64 KiB and more are rounded to
// 16 size classes per power of two and kept while the idle total stays within a cap
// (S4_HOST_CACHE_MB, default 1024; 0 keeps none); emptyCache() returns them all.
#pragma once
#include <cstddef>

namespace s4 {

void* hostAlloc(size_t bytes);  // nullptr when out of memory
void hostFree(void* ptr);
// Returns every idle block to the system.
void hostTrim();

struct HostCacheStats {
  long long idleBytes = 0;   // kept for reuse
  long long peakBytes = 0;   // highest live + idle
};
HostCacheStats hostCacheStats();

}  // namespace s4
