// NCCL exports for data-parallel training (native/cuda/nccl_comm.h holds the communicator):
//   ncclInfo() -> { loaded, version, path, reason }
//   ncclUniqueId() -> Uint8Array(128), the id rank 0 makes and the others receive
//   ncclCommCreate(id, rank, worldSize, timeoutMs) -> Promise<communicator handle>
//   ncclAllReduce(comm, buffers, 'sum' | 'avg'), ncclBroadcast(comm, buffers, root): one
//     NCCL group each, in place, queued on the stream
//   ncclWait(comm, timeoutMs) -> Promise: the queued collectives finished
//   ncclAbort(comm), ncclDestroy(comm)
// The handle is an opaque external value, valid only while it is in the set of live boxes.
// A build without CUDA exports the same names: ncclInfo answers loaded: false, the rest throw.
#include <napi.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "../common/error.h"
#include "args.h"
#include "buffer.h"
#include "js_function.h"
#include "worker_failure.h"
#ifdef S4_WITH_CUDA
#include "../cuda/context.h"
#include "../cuda/device_info.h"
#include "../cuda/nccl_comm.h"
#endif

namespace s4::binding {
namespace {

constexpr const char* kNoCuda = "built without CUDA (no nvcc at build time, or S4_CUDA=OFF), so NCCL is not used";

#ifdef S4_WITH_CUDA
struct CommBox;
// The live handles: an external value is a communicator only if its pointer is one of these.
std::unordered_set<CommBox*>& liveComms() {
  static std::unordered_set<CommBox*> all;
  return all;
}

struct CommBox {
  std::shared_ptr<nccl::Communicator> comm;
  int device = 0;
  explicit CommBox(std::shared_ptr<nccl::Communicator> c, int d) : comm(std::move(c)), device(d) {
    liveComms().insert(this);
  }
  ~CommBox() { liveComms().erase(this); }
};

CommBox& unwrapComm(const Napi::CallbackInfo& info, const char* fn) {
  CommBox* box = nullptr;
  if (info.Length() > 0 && info[0].IsExternal()) {
    box = static_cast<CommBox*>(info[0].As<Napi::External<void>>().Data());
    if (!liveComms().count(box)) box = nullptr;
  }
  if (!box) failType(std::string(fn) + ": argument 'comm' must be a communicator returned by ncclCommCreate");
  return *box;
}

// The float32 spans of argument `buffers`: an array of distinct, live CUDA buffers.
std::vector<nccl::FloatSpan> cudaSpans(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsArray())
    failType(std::string(fn) + ": argument 'buffers' must be an array of CUDA buffers");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<nccl::FloatSpan> spans;
  std::unordered_set<void*> seen;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    const std::string name = "buffers[" + std::to_string(k) + "]";
    BufferHandle* h = BufferHandle::unwrap(arr.Get(k));
    if (!h) failType(std::string(fn) + ": argument '" + name + "' must be a native buffer");
    const StoragePtr& s = h->storage();
    if (!s) fail(std::string(fn) + ": argument '" + name + "' has been disposed");
    if (s->device() != Device::CUDA)
      failType(std::string(fn) + ": argument '" + name + "' is a CPU buffer; NCCL needs CUDA tensors");
    if (s->bytes() % sizeof(float) != 0)
      failRange(std::string(fn) + ": argument '" + name + "' must hold float32 values (got " + std::to_string(s->bytes()) +
                " bytes)");
    if (s->bytes() > 0 && !seen.insert(s->data()).second)
      failRange(std::string(fn) + ": argument '" + name + "' appears twice in 'buffers'; each buffer may be reduced once per call");
    spans.push_back({s->data(), s->bytes() / sizeof(float)});
  }
  return spans;
}


// Sets up the communicator on a worker thread (it waits for the other ranks).
class CreateWorker : public Napi::AsyncWorker {
 public:
  CreateWorker(Napi::Env env, const nccl::UniqueId& id, int rank, int worldSize, int device, int timeoutMs)
      : Napi::AsyncWorker(env, "s4.ncclCommCreate"),
        deferred_(Napi::Promise::Deferred::New(env)),
        id_(id), rank_(rank), worldSize_(worldSize), device_(device), timeoutMs_(timeoutMs) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    caught_.run([&] { comm_ = nccl::Communicator::create(id_, rank_, worldSize_, device_, timeoutMs_); });
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (caught_.failed) {
      deferred_.Reject(jsError(env, caught_.kind, caught_.message.c_str()).Value());
      return;
    }
    auto* box = new CommBox(std::move(comm_), device_);
    deferred_.Resolve(Napi::External<CommBox>::New(env, box, [](Napi::Env, CommBox* b) { delete b; }));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  nccl::UniqueId id_;
  int rank_, worldSize_, device_, timeoutMs_;
  std::shared_ptr<nccl::Communicator> comm_;
  WorkerFailure caught_;
};

// Polls an event recorded after the queued collectives, and the communicator's error state,
// on a worker thread until the event completes, an error shows or the deadline passes.
class WaitWorker : public Napi::AsyncWorker {
 public:
  WaitWorker(Napi::Env env, const CommBox& box, int timeoutMs)
      : Napi::AsyncWorker(env, "s4.ncclWait"),
        deferred_(Napi::Promise::Deferred::New(env)),
        comm_(box.comm), device_(box.device), timeoutMs_(timeoutMs) {
    event_ = comm_->mark("ncclWait", &what_);
  }
  ~WaitWorker() override {
    if (event_) cudaEventDestroy(event_);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    caught_.run([&] {
      S4_CUDA_CHECK(cudaSetDevice(device_));
      const auto deadline = nccl::Communicator::Clock::now() + std::chrono::milliseconds(timeoutMs_);
      nccl::PollPause pause;
      while (!comm_->poll("ncclWait", event_, what_, deadline, timeoutMs_)) pause();
    });
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (caught_.failed) deferred_.Reject(jsError(env, caught_.kind, caught_.message.c_str()).Value());
    else deferred_.Resolve(env.Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<nccl::Communicator> comm_;
  int device_, timeoutMs_;
  cudaEvent_t event_ = nullptr;
  std::string what_;
  WorkerFailure caught_;
};
#endif

Napi::Value ncclInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#ifdef S4_WITH_CUDA
  const nccl::LoadInfo& i = nccl::info();
  o.Set("loaded", i.loaded);
  o.Set("version", i.version.empty() ? env.Null() : Napi::Value(Napi::String::New(env, i.version)));
  o.Set("path", i.path.empty() ? env.Null() : Napi::Value(Napi::String::New(env, i.path)));
  o.Set("reason", i.loaded ? env.Null() : Napi::Value(Napi::String::New(env, i.reason)));
#else
  o.Set("loaded", false);
  o.Set("version", env.Null());
  o.Set("path", env.Null());
  o.Set("reason", kNoCuda);
#endif
  return o;
}

Napi::Value ncclUniqueId(const Napi::CallbackInfo& info) {
#ifdef S4_WITH_CUDA
  const nccl::UniqueId id = nccl::uniqueId("ncclUniqueId");
  auto out = Napi::Uint8Array::New(info.Env(), id.size());
  std::copy(id.begin(), id.end(), out.Data());
  return out;
#else
  fail(std::string("ncclUniqueId: NCCL is unavailable: ") + kNoCuda);
#endif
}

Napi::Value ncclCommCreate(const Napi::CallbackInfo& info) {
  const char* fn = "ncclCommCreate";
  Args a(info, fn, 4);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    failType("ncclCommCreate: argument 'id' must be a Uint8Array from ncclUniqueId");
  auto idArray = info[0].As<Napi::Uint8Array>();
  if (idArray.ByteLength() != 128)
    failRange("ncclCommCreate: argument 'id' must hold 128 bytes (got " + std::to_string(idArray.ByteLength()) + ")");
  const int64_t worldSize = a.integer(2, "worldSize", 1, INT32_MAX);
  const int64_t rank = a.integer(1, "rank", 0, worldSize - 1);
  const int64_t timeoutMs = a.integer(3, "timeoutMs", 1, INT32_MAX);
#ifdef S4_WITH_CUDA
  nccl::require(fn);
  const cuda::DeviceInfo dev = cuda::probe();
  if (!dev.usable) fail(std::string(fn) + ": NCCL needs the cuda backend, which is unavailable: " + dev.reason);
  cuda::stream();  // the stream (and the context) the collectives will use, on this device
  int device = 0;
  S4_CUDA_CHECK(cudaGetDevice(&device));
  nccl::UniqueId id;
  std::copy(idArray.Data(), idArray.Data() + id.size(), id.begin());
  auto* worker = new CreateWorker(info.Env(), id, static_cast<int>(rank), static_cast<int>(worldSize), device,
                                  static_cast<int>(timeoutMs));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
#else
  (void)rank;
  (void)timeoutMs;
  fail(std::string(fn) + ": NCCL is unavailable: " + kNoCuda);
#endif
}

#ifdef S4_WITH_CUDA
nccl::ReduceOp reduceOp(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const std::string s = info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  if (s == "sum") return nccl::ReduceOp::Sum;
  if (s == "avg") return nccl::ReduceOp::Avg;
  failType(std::string(fn) + ": argument 'op' must be 'sum' or 'avg'");
}
#endif

Napi::Value ncclAllReduce(const Napi::CallbackInfo& info) {
  const char* fn = "ncclAllReduce";
#ifdef S4_WITH_CUDA
  Args a(info, fn, 3);
  CommBox& box = unwrapComm(info, fn);
  const auto spans = cudaSpans(info, 1, fn);
  const nccl::ReduceOp op = reduceOp(info, 2, fn);
  box.comm->allReduce(fn, spans, op);
  return info.Env().Undefined();
#else
  failType(std::string(fn) + ": argument 'comm' must be a communicator returned by ncclCommCreate (" + kNoCuda + ")");
#endif
}

Napi::Value ncclBroadcast(const Napi::CallbackInfo& info) {
  const char* fn = "ncclBroadcast";
#ifdef S4_WITH_CUDA
  Args a(info, fn, 3);
  CommBox& box = unwrapComm(info, fn);
  const auto spans = cudaSpans(info, 1, fn);
  const int64_t root = a.integer(2, "root", 0, box.comm->worldSize() - 1);
  box.comm->broadcast(fn, spans, static_cast<int>(root));
  return info.Env().Undefined();
#else
  failType(std::string(fn) + ": argument 'comm' must be a communicator returned by ncclCommCreate (" + kNoCuda + ")");
#endif
}

Napi::Value ncclWait(const Napi::CallbackInfo& info) {
  const char* fn = "ncclWait";
#ifdef S4_WITH_CUDA
  Args a(info, fn, 2);
  CommBox& box = unwrapComm(info, fn);
  const int64_t timeoutMs = a.integer(1, "timeoutMs", 1, INT32_MAX);
  auto* worker = new WaitWorker(info.Env(), box, static_cast<int>(timeoutMs));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
#else
  failType(std::string(fn) + ": argument 'comm' must be a communicator returned by ncclCommCreate (" + kNoCuda + ")");
#endif
}

Napi::Value ncclAbort(const Napi::CallbackInfo& info) {
  const char* fn = "ncclAbort";
#ifdef S4_WITH_CUDA
  unwrapComm(info, fn).comm->abort();
  return info.Env().Undefined();
#else
  failType(std::string(fn) + ": argument 'comm' must be a communicator returned by ncclCommCreate (" + kNoCuda + ")");
#endif
}

Napi::Value ncclDestroy(const Napi::CallbackInfo& info) {
  const char* fn = "ncclDestroy";
#ifdef S4_WITH_CUDA
  unwrapComm(info, fn).comm->destroy(fn);
  return info.Env().Undefined();
#else
  failType(std::string(fn) + ": argument 'comm' must be a communicator returned by ncclCommCreate (" + kNoCuda + ")");
#endif
}

}  // namespace

void exportNccl(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> fns[] = {
      {"ncclInfo", ncclInfo},           {"ncclUniqueId", ncclUniqueId}, {"ncclCommCreate", ncclCommCreate},
      {"ncclAllReduce", ncclAllReduce}, {"ncclBroadcast", ncclBroadcast}, {"ncclWait", ncclWait},
      {"ncclAbort", ncclAbort},         {"ncclDestroy", ncclDestroy},
  };
  for (const auto& [name, f] : fns) exports.Set(name, makeFunction(env, name, f));
}

}  // namespace s4::binding
