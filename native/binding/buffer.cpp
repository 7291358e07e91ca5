#include "buffer.h"

#include <algorithm>

namespace s4::binding {
namespace {

Napi::FunctionReference* gConstructor(Napi::Env env) { return env.GetInstanceData<Napi::FunctionReference>(); }

}  // namespace

void BufferHandle::define(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeBuffer",
                                    {InstanceMethod("free", &BufferHandle::free),
                                     InstanceAccessor("bytes", &BufferHandle::bytes, nullptr),
                                     InstanceAccessor("device", &BufferHandle::device, nullptr),
                                     InstanceAccessor("alive", &BufferHandle::alive, nullptr)});
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ctor));
  env.SetInstanceData<Napi::FunctionReference>(ref);
  exports.Set("NativeBuffer", ctor);
}

Napi::Object BufferHandle::wrap(Napi::Env env, StoragePtr storage) {
  Napi::Object obj = gConstructor(env)->New({});
  BufferHandle* h = Napi::ObjectWrap<BufferHandle>::Unwrap(obj);
  h->storage_ = std::move(storage);
  // V8 is told of a buffer's bytes up to a cap. The report makes a forgotten tensor weigh
  // on the collector, so its finalizer runs sooner; but V8 answers external memory that
  // grows past its limit (64 MiB) with a full mark-compact, and reporting whole buffers made
  // an ordinary training step (a few hundred MiB of activations, freed by tidy) run dozens
  // of collections: 280 us per 16 MiB allocation instead of 25. Memory is freed by
  // dispose()/tidy(), not by the collector, so the cap costs nothing in normal use.
  constexpr int64_t kReportCap = 64 * 1024;
  h->reported_ = std::min<int64_t>(static_cast<int64_t>(h->storage_->bytes()), kReportCap);
  Napi::MemoryManagement::AdjustExternalMemory(env, h->reported_);
  return obj;
}

BufferHandle* BufferHandle::unwrap(const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  Napi::Object obj = value.As<Napi::Object>();
  Napi::FunctionReference* ctor = gConstructor(value.Env());
  if (!ctor || !obj.InstanceOf(ctor->Value())) return nullptr;
  return Napi::ObjectWrap<BufferHandle>::Unwrap(obj);
}

BufferHandle::BufferHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BufferHandle>(info) {}

BufferHandle::~BufferHandle() {
  // Finalizers may not call into V8 to adjust external memory safely in every Node
  // version; the storage itself is released here regardless.
  storage_.reset();
}

void BufferHandle::release(Napi::Env env) {
  if (!storage_) return;
  storage_.reset();
  if (reported_) Napi::MemoryManagement::AdjustExternalMemory(env, -reported_);
  reported_ = 0;
}

Napi::Value BufferHandle::free(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value BufferHandle::bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), storage_ ? static_cast<double>(storage_->bytes()) : 0);
}

Napi::Value BufferHandle::device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), storage_ ? deviceName(storage_->device()) : "none");
}

Napi::Value BufferHandle::alive(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !!storage_); }

}  // namespace s4::binding
