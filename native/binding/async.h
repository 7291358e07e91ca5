// Asynchronous exports: async calls (beginQueue, endQueue, abandonQueue) and downloadAsync.
#pragma once
#include <napi.h>

namespace s4::binding {

void exportAsync(Napi::Env env, Napi::Object exports);

}  // namespace s4::binding
