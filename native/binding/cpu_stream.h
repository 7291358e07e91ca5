// The CPU stream: how CPU work runs off the JS thread while keeping the order it was
// issued in (docs/ARCHITECTURE.md, "Async calls").
//
// An async call (forwardAsync, stepAsync) runs its TypeScript code on the JS thread as
// usual, but between beginQueue() and endQueue() every CPU op is checked and then recorded
// instead of run: a copy of its checked Call, and references to its buffers (a tensor the
// TS code disposes meanwhile stays allocated until the op has run). endQueue() takes a
// ticket and queues the recorded ops as one job on a worker thread (ProgramWorker,
// async.cpp); jobs run in ticket order, one at a time, like kernels on the CUDA stream.
// Synchronous CPU work on the JS thread (an op outside a queue, copy, write, download)
// first waits for every issued job (drain), as a synchronous CUDA read waits for the
// stream. Reads inside a queue (an op that answers a number, a download) throw: the data
// they would see does not exist yet.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "../common/storage.h"

namespace s4::binding {

class OpSpec;
class Call;

// The work of one async call.
struct CpuProgram {
  std::vector<std::function<void()>> tasks;
  std::vector<StoragePtr> keep;  // every buffer a task uses, alive until the job ends
  bool usedCuda = false;         // a CUDA op was issued during the recording
};

// The recording of the calling (JS) thread, or nullptr when none is open.
CpuProgram* recordingProgram();
void beginRecording(const char* fn);
std::unique_ptr<CpuProgram> endRecording(const char* fn);

// Records a checked CPU op; its buffers are found again in `info` (kept alive).
void recordOp(const OpSpec& spec, const Call& call, const Napi::CallbackInfo& info);

// Job order across threads: tickets issued on the JS thread, completed by the workers.
class CpuStream {
 public:
  uint64_t issue() { return ++issued_; }
  void waitTurn(uint64_t ticket);
  void complete(uint64_t ticket);
  // Waits until every issued job has completed (JS thread; returns at once when idle).
  void drain();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> done_{0};
};

CpuStream& cpuStream();

// Before synchronous work on CPU buffers: throws inside a recording (name the function),
// else drains the stream.
void syncCpuWork(const char* fn);

}  // namespace s4::binding
