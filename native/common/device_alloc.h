// Device memory of the CUDA backend, declared here so that code outside native/cuda
// (common/storage.cpp) reaches it without CUDA headers. Implemented by
// native/cuda/allocator.cu: size-class free lists over cudaMallocAsync, everything on the
// one stream (docs/ARCHITECTURE.md, Memory and streams). Defined only in builds with CUDA.
#pragma once
#include <cstddef>

namespace s4::cuda {

// Throws s4::Error on failure; out of memory is ErrorKind::Range ("out of GPU memory: ...").
void* deviceAlloc(size_t bytes);
// The block may still be read by queued work: it is handed out again only to work queued
// after this call, which the single stream runs after that work.
void deviceFree(void* ptr);

}  // namespace s4::cuda
