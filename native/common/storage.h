// A block of memory on one device, owned through a shared_ptr by its JS handle
// (binding/buffer.h); freeing the handle destroys the Storage at once. Queued CUDA work
// holds no reference: native code sees a Storage& only during a call, and what it queues
// reads the block later. That is safe because all CUDA work runs on one stream and a freed
// block is handed out again only to work queued after the free (cuda/allocator.cu);
// DownloadWorker (binding/async.cpp), for one, queues its copy at call time. CPU work run
// later (the CPU stream, binding/cpu_stream.h) holds shared_ptrs to its buffers instead.
// See docs/ARCHITECTURE.md, Memory and streams.
#pragma once
#include <cstddef>
#include <memory>

#include "device.h"

namespace s4 {

class Storage {
 public:
  Storage(Device device, size_t bytes);  // allocates; throws s4::Error on failure
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Device device() const { return device_; }
  size_t bytes() const { return bytes_; }
  void* data() const { return data_; }
  template <typename T> T* as() const { return static_cast<T*>(data_); }

 private:
  Device device_;
  size_t bytes_;
  void* data_;
};

using StoragePtr = std::shared_ptr<Storage>;

// Live allocations per device, kept by the native layer for s4.memory().
struct DeviceMemoryStats {
  long long liveBuffers = 0;
  long long liveBytes = 0;
};
DeviceMemoryStats memoryStats(Device device);

}  // namespace s4
