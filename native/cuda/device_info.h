// What the probe found about the GPU, and pool statistics. Plain C++ (no CUDA headers)
// so the binding can use it.
#pragma once
#include <string>

namespace s4::cuda {

struct DeviceInfo {
  bool usable = false;
  std::string reason;  // why not usable
  int deviceCount = 0;
  std::string name;
  int major = 0, minor = 0;
  unsigned long long totalMemory = 0, freeMemory = 0;
  int multiprocessors = 0;
  int runtimeVersion = 0, driverVersion = 0;
  int cufftVersion = -1;
};

// Probes once (device count, properties, cuFFT) and caches the answer.
DeviceInfo probe();

struct PoolStats {
  unsigned long long reservedBytes = 0, usedBytes = 0, peakReservedBytes = 0, peakUsedBytes = 0;
};
PoolStats poolStats();
void resetPeakStats();
// Returns cached, unused pool memory to the driver.
void trimPool();
// Waits for all work issued so far.
void synchronize();

}  // namespace s4::cuda
