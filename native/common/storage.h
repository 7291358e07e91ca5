// A block of memory on one device. Owned through shared_ptr: the JS handle holds one
// reference and every queued async operation holds another, so disposing a tensor while
// a copy is in flight defers the free until the copy is done.
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
