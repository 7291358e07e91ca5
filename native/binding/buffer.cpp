#include "buffer.h"

#include <algorithm>

namespace s4::binding {
namespace {

// Per-environment class data: the constructor, and whether wrap() is constructing (the
// constructor refuses calls from JS: buffers come from alloc/upload only).
struct ClassData {
  Napi::FunctionReference ctor;
  bool constructing = false;
};

ClassData* classData(napi_env env) { return Napi::Env(env).GetInstanceData<ClassData>(); }

// Marks the objects wrap() makes (N-API 8 type tags): unwrap() recognizes a NativeBuffer
// by its tag, a lookup of one private property, where instanceof walks the prototype chain
// and asks the constructor; every buffer argument of every native call goes through it.
constexpr napi_type_tag kBufferTag = {0x5334b0ffe5d1ea7bULL, 0x8c2f6a1d9e3b4c57ULL};

// What unwrap() answers for a NativeBuffer that was freed: no storage.
BufferHandle* freedHandle() {
  static BufferHandle* h = new BufferHandle();
  return h;
}

napi_value thisOf(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr);
  return self;
}

BufferHandle* handleOf(napi_env env, napi_callback_info info) {
  return BufferHandle::unwrap(Napi::Value(env, thisOf(env, info)));
}

}  // namespace

napi_value BufferHandle::construct(napi_env env, napi_callback_info info) {
  ClassData* d = classData(env);
  if (!d || !d->constructing) {
    napi_throw_type_error(env, nullptr, "NativeBuffer: buffers are made by alloc() or upload(), not by new");
    return nullptr;
  }
  return thisOf(env, info);
}

void BufferHandle::define(Napi::Env env, Napi::Object exports) {
  napi_property_descriptor props[] = {
      {"free", nullptr, &BufferHandle::free, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bytes", nullptr, nullptr, &BufferHandle::bytes, nullptr, nullptr, napi_default, nullptr},
      {"device", nullptr, nullptr, &BufferHandle::device, nullptr, nullptr, napi_default, nullptr},
      {"alive", nullptr, nullptr, &BufferHandle::alive, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value ctor = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_define_class(env, "NativeBuffer", NAPI_AUTO_LENGTH, &BufferHandle::construct, nullptr,
                                                   sizeof props / sizeof props[0], props, &ctor));
  auto* data = new ClassData();
  data->ctor = Napi::Persistent(Napi::Function(env, ctor));
  env.SetInstanceData<ClassData>(data);
  exports.Set("NativeBuffer", Napi::Function(env, ctor));
}

Napi::Object BufferHandle::wrap(Napi::Env env, StoragePtr storage) {
  ClassData* d = classData(env);
  d->constructing = true;
  Napi::Object obj;
  try {
    obj = d->ctor.New({});
  } catch (...) {
    d->constructing = false;
    throw;
  }
  d->constructing = false;
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, obj, &kBufferTag), obj);
  auto* h = new BufferHandle();
  h->storage_ = std::move(storage);
  napi_status st = napi_wrap(env, obj, h, &BufferHandle::finalize, nullptr, nullptr);
  if (st != napi_ok) {
    delete h;
    NAPI_THROW_IF_FAILED(env, st, obj);
  }
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
  napi_env env = value.Env();
  ClassData* d = classData(env);
  if (!d) return nullptr;
  bool isBuffer = false;
  if (napi_check_object_type_tag(env, value, &kBufferTag, &isBuffer) != napi_ok || !isBuffer) return nullptr;
  void* p = nullptr;
  if (napi_unwrap(env, value, &p) != napi_ok || !p) return freedHandle();
  return static_cast<BufferHandle*>(p);
}

void BufferHandle::finalize(napi_env, void* data, void*) {
  // A forgotten handle: its storage goes now. The external memory it reported is not
  // given back here (finalizers may not call into V8 safely in every Node version).
  delete static_cast<BufferHandle*>(data);
}

napi_value BufferHandle::free(napi_env env, napi_callback_info info) {
  napi_value self = thisOf(env, info);
  BufferHandle* h = unwrap(Napi::Value(env, self));
  if (h && h != freedHandle()) {
    void* p = nullptr;
    napi_remove_wrap(env, self, &p);
    const int64_t reported = h->reported_;
    delete h;  // destroys the Storage (unless queued CPU work still holds it)
    if (reported) Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env), -reported);
  }
  return Napi::Env(env).Undefined();
}

napi_value BufferHandle::bytes(napi_env env, napi_callback_info info) {
  BufferHandle* h = handleOf(env, info);
  const double n = h && h->storage_ ? static_cast<double>(h->storage_->bytes()) : 0;
  return Napi::Number::New(env, n);
}

napi_value BufferHandle::device(napi_env env, napi_callback_info info) {
  BufferHandle* h = handleOf(env, info);
  return Napi::String::New(env, h && h->storage_ ? deviceName(h->storage_->device()) : "none");
}

napi_value BufferHandle::alive(napi_env env, napi_callback_info info) {
  BufferHandle* h = handleOf(env, info);
  return Napi::Boolean::New(env, h && h->storage_);
}

}  // namespace s4::binding
