// Where a buffer lives. Values match the strings used by the TypeScript layer.
#pragma once

namespace s4 {

enum class Device : int { CPU = 0, CUDA = 1 };

inline const char* deviceName(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

}  // namespace s4
