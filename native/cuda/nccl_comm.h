// One NCCL communicator of a data-parallel run: this process's rank among worldSize, on the
// current CUDA device, issuing its collectives on s4::cuda::stream() so that they follow the
// backward kernels that wrote the gradients and precede the optimizer kernels that read them.
//
// The communicator is non-blocking (ncclConfig_t.blocking = 0): NCCL calls return at once,
// possibly with ncclInProgress, and the state is polled with ncclCommGetAsyncError. That is
// what lets every wait end at a deadline instead of hanging when a rank has died: the
// initialisation (a rank that never joins), the queuing of a collective (the first one
// connects to the peers) and the collectives themselves (wait()). At a deadline or on an
// asynchronous error the communicator is aborted (ncclCommAbort ends its kernels) and the
// error says which operation, which rank and that a rank may have died or hung.
//
// Thread use: create() and poll() run on worker threads, the rest on the JS thread; a mutex
// orders every NCCL call on the communicator.
#pragma once
#include <cuda_runtime.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nccl_api.h"

namespace s4::nccl {

enum class ReduceOp { Sum, Avg };

// `count` float32 values at `data` (device memory of the communicator's device).
struct FloatSpan {
  void* data;
  size_t count;
};

// The pause between two polls of NCCL or of an event: yields at first, then sleeps.
class PollPause {
 public:
  void operator()();

 private:
  int polls_ = 0;
};

class Communicator {
 public:
  using Clock = std::chrono::steady_clock;

  // Joins the communicator named by `id` as `rank` of `worldSize` on CUDA device `device`,
  // waiting at most timeoutMs for the others; at the deadline the half-made communicator is
  // aborted and s4::Error says the other ranks did not join. Blocks: call on a worker thread.
  static std::shared_ptr<Communicator> create(const UniqueId& id, int rank, int worldSize, int device, int timeoutMs);
  ~Communicator();

  int rank() const { return rank_; }
  int worldSize() const { return worldSize_; }
  int timeoutMs() const { return timeoutMs_; }

  // One NCCL group: an in-place all-reduce of each span, queued on the stream. Returns once
  // NCCL has queued the group (at most timeoutMs: the first collective connects the ranks).
  void allReduce(const char* fn, const std::vector<FloatSpan>& spans, ReduceOp op);
  // One NCCL group: each span replaced by root's, queued on the stream.
  void broadcast(const char* fn, const std::vector<FloatSpan>& spans, int root);

  // What a waiter polls: an event recorded on the stream after the collectives queued so
  // far (the caller owns it: cudaEventDestroy), and *what names the last of them.
  cudaEvent_t mark(const char* fn, std::string* what);
  // One poll of the waiter, on a worker thread: true when the event completed, false while
  // it has not. Throws s4::Error (after aborting) on an asynchronous NCCL error, a CUDA
  // error or when `deadline` has passed (waitMs is the wait's length, for the message), and
  // when the communicator was aborted meanwhile (the results are not valid then).
  bool poll(const char* fn, cudaEvent_t event, const std::string& what, Clock::time_point deadline, int waitMs);

  // Ends the communicator at once, dropping queued work (ncclCommAbort). Idempotent.
  void abort();
  // Flushes the queued collectives and frees the communicator (ncclCommFinalize, then
  // ncclCommDestroy); a rank that does not answer within timeoutMs leads to an abort and an
  // error. Idempotent.
  void destroy(const char* fn);

 private:
  Communicator(const Api& api, int rank, int worldSize, int timeoutMs)
      : api_(api), rank_(rank), worldSize_(worldSize), timeoutMs_(timeoutMs) {}

  // One NCCL group of issue(span, stream) for each non-empty span, then settle(); `what`
  // names it in messages.
  void group(const char* fn, const std::string& what, const std::vector<FloatSpan>& spans,
             const std::function<Result(const FloatSpan&, cudaStream_t)>& issue);
  // Polls the state until NCCL is no longer in progress; the caller holds mu_.
  void settle(const char* fn, const char* what);
  // Aborts and remembers why; the caller holds mu_.
  void abortLocked(const std::string& why);
  [[noreturn]] void failLocked(const std::string& message);
  std::string where() const;

  const Api& api_;
  const int rank_, worldSize_, timeoutMs_;
  std::mutex mu_;
  CommPtr comm_ = nullptr;
  bool aborted_ = false;
  std::string lastOp_;  // the last collective queued, for messages
  std::string ended_;  // why the communicator can no longer be used; empty while it can
};

}  // namespace s4::nccl
