// The JS handle of a native buffer (NativeBuffer): a JS object wrapping a BufferHandle,
// the owner of a shared_ptr<Storage>. free() destroys the Storage at once; work already
// queued on the stream may still read it, which the single stream makes safe
// (common/storage.h), and work queued on the CPU stream holds its own reference
// (binding/cpu_stream.h).
//
// free() also removes the wrap and deletes the BufferHandle, so a disposed tensor leaves
// nothing for the collector to finalize. Finalizers of wrapped objects run only when the
// event loop turns; a synchronous loop that made thousands of tensors per second used to
// pile them up (RSS grew by ~100 KB a training step while s4.memory() stayed flat).
#pragma once
#include <napi.h>

#include "../common/storage.h"

namespace s4::binding {

class BufferHandle {
 public:
  static void define(Napi::Env env, Napi::Object exports);
  static Napi::Object wrap(Napi::Env env, StoragePtr storage);
  // nullptr unless `value` is a NativeBuffer; a freed one gives a handle whose storage is null.
  static BufferHandle* unwrap(const Napi::Value& value);

  const StoragePtr& storage() const { return storage_; }

 private:
  StoragePtr storage_;
  int64_t reported_ = 0;  // bytes reported to V8 via AdjustExternalMemory

  static napi_value construct(napi_env env, napi_callback_info info);
  static napi_value free(napi_env env, napi_callback_info info);
  static napi_value bytes(napi_env env, napi_callback_info info);
  static napi_value device(napi_env env, napi_callback_info info);
  static napi_value alive(napi_env env, napi_callback_info info);
  static void finalize(napi_env env, void* data, void* hint);
};

}  // namespace s4::binding
