// The asynchronous exports: async calls (beginQueue / endQueue / abandonQueue, see
// cpu_stream.h) and downloadAsync. Both wait off the JS thread and settle a Promise on it.
#include "async.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "../common/error.h"
#include "args.h"
#include "cpu_stream.h"
#include "js_function.h"
#include "worker_failure.h"
#ifdef S4_WITH_CUDA
#include "../cuda/context.h"
#endif

namespace s4::binding {
namespace {

#ifdef S4_WITH_CUDA
// An event recorded on the stream now, waited for on a worker thread.
class StreamMark {
 public:
  void record() {
    S4_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    S4_CUDA_CHECK(cudaEventRecord(event_, cuda::stream()));
  }
  void wait(WorkerFailure& f) {
    if (!event_) return;
    cudaError_t err = cudaEventSynchronize(event_);
    if (err != cudaSuccess) f.set(ErrorKind::Generic, std::string("CUDA error while waiting for the stream: ") + cudaGetErrorString(err));
  }
  ~StreamMark() {
    if (event_) cudaEventDestroy(event_);
  }

 private:
  cudaEvent_t event_ = nullptr;
};
#endif

// Runs the recorded CPU ops of one async call in ticket order, then (if the call issued
// CUDA work) waits for the CUDA stream. Cancellation is checked between ops.
class ProgramWorker : public Napi::AsyncWorker {
 public:
  ProgramWorker(Napi::Env env, std::unique_ptr<CpuProgram> program)
      : Napi::AsyncWorker(env, "s4.asyncCall"),
        deferred_(Napi::Promise::Deferred::New(env)),
        program_(std::move(program)),
        cancelled_(std::make_shared<std::atomic<bool>>(false)) {
    // A call with no CPU work still takes a ticket, unless it issued CUDA work: it then
    // resolves after the CPU jobs issued before it (a barrier, e.g. before reading
    // parameters synchronously).
#ifdef S4_WITH_CUDA
    if (program_->usedCuda) mark_.record();
#endif
    // Last: once a ticket is issued, nothing may throw before Queue() (an unserved ticket
    // would stop every later job).
    if (!program_->tasks.empty() || !program_->usedCuda) ticket_ = cpuStream().issue();
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  std::shared_ptr<std::atomic<bool>> cancelFlag() const { return cancelled_; }

  void Execute() override {
    if (ticket_) {
      cpuStream().waitTurn(ticket_);
      failure_.run([&] {
        for (auto& task : program_->tasks) {
          if (cancelled_->load()) {
            aborted_ = true;
            break;
          }
          task();
        }
      });
      // The buffers go before the next job starts (they may be the last references).
      failure_.run([&] { program_.reset(); });
      cpuStream().complete(ticket_);
    }
#ifdef S4_WITH_CUDA
    mark_.wait(failure_);
#endif
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.failed) {
      deferred_.Reject(jsError(env, failure_.kind, failure_.message.c_str()).Value());
    } else if (aborted_) {
      Napi::Error err = Napi::Error::New(env, "the async call was cancelled");
      err.Set("code", "S4_ABORTED");
      deferred_.Reject(err.Value());
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<CpuProgram> program_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  uint64_t ticket_ = 0;
  bool aborted_ = false;
  WorkerFailure failure_;
#ifdef S4_WITH_CUDA
  StreamMark mark_;
#endif
};

Napi::Value beginQueue(const Napi::CallbackInfo& info) {
  beginRecording("beginQueue");
  return info.Env().Undefined();
}

// endQueue() -> { promise, cancel }: the recorded work queued as one job.
Napi::Value endQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* worker = new ProgramWorker(env, endRecording("endQueue"));
  auto flag = worker->cancelFlag();
  Napi::Promise promise = worker->promise();
  worker->Queue();  // at once: the worker holds a ticket (see its constructor)
  Napi::Object o = Napi::Object::New(env);
  o.Set("promise", promise);
  o.Set("cancel", Napi::Function::New(env, [flag](const Napi::CallbackInfo& i) -> Napi::Value {
          flag->store(true);
          return i.Env().Undefined();
        }, "cancel"));
  return o;
}

// abandonQueue(): drops the recording (the TS code of the call threw); nothing of it runs.
Napi::Value abandonQueue(const Napi::CallbackInfo& info) {
  if (recordingProgram()) endRecording("abandonQueue");
  return info.Env().Undefined();
}

// Host memory handed to an ArrayBuffer without a copy; freed by the collector.
void freeHost(napi_env, void* data, void*) { std::free(data); }

// Copies a buffer to the host without blocking the event loop: a CPU buffer after the
// CPU jobs issued before the call (ticket order), a CUDA buffer through pinned memory
// after the work queued before it (the copy is queued at call time). The bytes land in
// memory that becomes the Float32Array's store as it is: no copy on the JS thread.
class DownloadWorker : public Napi::AsyncWorker {
 public:
  DownloadWorker(Napi::Env env, StoragePtr src)
      : Napi::AsyncWorker(env, "s4.download"), deferred_(Napi::Promise::Deferred::New(env)) {
    bytes_ = src->bytes() / sizeof(float) * sizeof(float);
    if (src->device() == Device::CPU) {
      src_ = std::move(src);
      ticket_ = cpuStream().issue();
      return;
    }
#ifdef S4_WITH_CUDA
    if (bytes_) {
      S4_CUDA_CHECK(cudaMallocHost(&pinned_, bytes_));
      S4_CUDA_CHECK(cudaMemcpyAsync(pinned_, src->data(), bytes_, cudaMemcpyDeviceToHost, cuda::stream()));
      mark_.record();
    }
#endif
  }
  ~DownloadWorker() override {
    std::free(host_);
#ifdef S4_WITH_CUDA
    if (pinned_) cudaFreeHost(pinned_);
#endif
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    host_ = std::malloc(bytes_ ? bytes_ : 1);
    if (!host_) failure_.set(ErrorKind::Range, "out of host memory: could not allocate " + std::to_string(bytes_) + " bytes");
    if (ticket_) {
      cpuStream().waitTurn(ticket_);
      if (host_ && bytes_) std::memcpy(host_, src_->data(), bytes_);
      src_.reset();
      cpuStream().complete(ticket_);
      return;
    }
#ifdef S4_WITH_CUDA
    mark_.wait(failure_);
    if (host_ && pinned_ && !failure_.failed) std::memcpy(host_, pinned_, bytes_);
#endif
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.failed) {
      deferred_.Reject(jsError(env, failure_.kind, failure_.message.c_str()).Value());
      return;
    }
    napi_value ab = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_external_arraybuffer(env, host_, bytes_, freeHost, nullptr, &ab));
    host_ = nullptr;  // owned by the ArrayBuffer now
    deferred_.Resolve(Napi::Float32Array::New(env, bytes_ / sizeof(float), Napi::ArrayBuffer(env, ab), 0));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  size_t bytes_ = 0;
  StoragePtr src_;
  uint64_t ticket_ = 0;
  void* host_ = nullptr;
  WorkerFailure failure_;
#ifdef S4_WITH_CUDA
  void* pinned_ = nullptr;
  StreamMark mark_;
#endif
};

Napi::Value downloadAsync(const Napi::CallbackInfo& info) {
  Args a(info, "downloadAsync", 1);
  StoragePtr src = a.bufferPtr(0, "buffer");
  if (src->device() == Device::CPU && recordingProgram())
    fail("downloadAsync: cannot read a CPU buffer inside an async call (forwardAsync, stepAsync); await the call, then read the result");
  auto* worker = new DownloadWorker(info.Env(), std::move(src));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace

void exportAsync(Napi::Env env, Napi::Object exports) {
  exports.Set("beginQueue", makeFunction(env, "beginQueue", beginQueue));
  exports.Set("endQueue", makeFunction(env, "endQueue", endQueue));
  exports.Set("abandonQueue", makeFunction(env, "abandonQueue", abandonQueue));
  exports.Set("downloadAsync", makeFunction(env, "downloadAsync", downloadAsync));
}

}  // namespace s4::binding
