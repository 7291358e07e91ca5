// The JS handle of a native buffer: a wrapped shared_ptr<Storage>, its owner.
// free() destroys the Storage at once; work already queued on the stream may still read
// it, which the single stream makes safe (common/storage.h).
#pragma once
#include <napi.h>

#include "../common/storage.h"

namespace s4::binding {

class BufferHandle : public Napi::ObjectWrap<BufferHandle> {
 public:
  static void define(Napi::Env env, Napi::Object exports);
  static Napi::Object wrap(Napi::Env env, StoragePtr storage);
  // nullptr unless `value` is a BufferHandle; its storage may be null (freed).
  static BufferHandle* unwrap(const Napi::Value& value);

  explicit BufferHandle(const Napi::CallbackInfo& info);
  ~BufferHandle() override;
  const StoragePtr& storage() const { return storage_; }

 private:
  Napi::Value free(const Napi::CallbackInfo& info);
  Napi::Value bytes(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value alive(const Napi::CallbackInfo& info);
  void release(Napi::Env env);

  StoragePtr storage_;
  int64_t reported_ = 0;  // bytes reported to V8 via AdjustExternalMemory
};

}  // namespace s4::binding
