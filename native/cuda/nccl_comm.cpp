// The NCCL communicator (see nccl_comm.h).
#include "nccl_comm.h"

#include <cstdio>
#include <thread>

#include "context.h"

namespace s4::nccl {
namespace {

// "30 s", "0.25 s".
std::string seconds(int ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", ms / 1000.0);
  return buf;
}


std::string spansWord(size_t n) { return std::to_string(n) + (n == 1 ? " buffer" : " buffers"); }

}  // namespace

std::string Communicator::where() const {
  return "rank " + std::to_string(rank_) + " of world size " + std::to_string(worldSize_);
}

std::shared_ptr<Communicator> Communicator::create(const UniqueId& id, int rank, int worldSize, int device, int timeoutMs) {
  const char* fn = "ncclCommCreate";
  const Api& a = require(fn);
  // NCCL binds the communicator to the calling thread's current device.
  S4_CUDA_CHECK(cudaSetDevice(device));
  std::shared_ptr<Communicator> c(new Communicator(a, rank, worldSize, timeoutMs));
  std::lock_guard<std::mutex> lock(c->mu_);
  Config config;
  config.blocking = 0;
  const Result r = a.commInitRankConfig(&c->comm_, worldSize, id, rank, &config);
  if (r != kSuccess && r != kInProgress) {
    const std::string why = describe(a, r, c->comm_);
    if (c->comm_) c->abortLocked("was aborted: its set-up failed");
    throw s4::Error(std::string(fn) + ": NCCL could not set up " + c->where() + ": " + why);
  }
  c->settle(fn, nullptr);
  return c;
}

Communicator::~Communicator() {
  // A communicator nobody destroyed (its handle was collected): abort, which never waits
  // for the other ranks, unlike ncclCommDestroy.
  if (comm_) api_.commAbort(comm_);
}

void Communicator::abortLocked(const std::string& why) {
  if (comm_) {
    api_.commAbort(comm_);
    aborted_ = true;
  }
  comm_ = nullptr;
  if (ended_.empty()) ended_ = why;
}

void Communicator::failLocked(const std::string& message) {
  abortLocked("was aborted after an error (" + message + ")");
  throw s4::Error(message);
}

void PollPause::operator()() {
  // A non-blocking NCCL group ends on a thread NCCL starts for it, typically within tens of
  // microseconds once the ranks are connected: yield for the first millisecond or so, so the
  // JS thread returns as soon as the kernels are queued, then sleep between polls.
  if (++polls_ < 2000) std::this_thread::yield();
  else std::this_thread::sleep_for(std::chrono::microseconds(100));
}

void Communicator::settle(const char* fn, const char* what) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs_);
  PollPause pause;
  for (;;) {
    Result state = kSuccess;
    const Result r = api_.commGetAsyncError(comm_, &state);
    if (r != kSuccess) state = r;
    if (state == kSuccess) return;
    if (state != kInProgress) {
      const std::string during = what ? std::string(" during the ") + what : " while setting up the communicator";
      failLocked(std::string(fn) + ": NCCL failed" + during + " (" + where() + "): " + describe(api_, state, comm_) +
                 "; a rank may have died or hung; the communicator was aborted");
    }
    if (Clock::now() >= deadline) {
      if (!what)
        failLocked(std::string(fn) + ": the other ranks did not join within " + seconds(timeoutMs_) + " (this is " +
                   where() + "); the communicator was aborted");
      failLocked(std::string(fn) + ": NCCL did not finish the " + what + " within " + seconds(timeoutMs_) + " (" +
                 where() + "); a rank may have died or hung; the communicator was aborted");
    }
    pause();
  }
}

void Communicator::group(const char* fn, const std::string& what, const std::vector<FloatSpan>& spans,
                         const std::function<Result(const FloatSpan&, cudaStream_t)>& issue) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!comm_) throw s4::Error(std::string(fn) + ": the communicator " + ended_);
  if (spans.empty()) return;
  const cudaStream_t s = cuda::stream();
  Result r = api_.groupStart();
  if (r != kSuccess) failLocked(std::string(fn) + ": ncclGroupStart failed: " + describe(api_, r, comm_));
  Result failed = kSuccess;
  for (const FloatSpan& x : spans) {
    if (x.count == 0) continue;
    r = issue(x, s);
    if (r != kSuccess && r != kInProgress) {
      failed = r;
      break;
    }
  }
  // The group is closed even after a failed call (group state is per thread).
  r = api_.groupEnd();
  if (failed != kSuccess) r = failed;
  if (r != kSuccess && r != kInProgress)
    failLocked(std::string(fn) + ": NCCL refused the " + what + " (" + where() + "): " + describe(api_, r, comm_) +
               "; the communicator was aborted");
  lastOp_ = what;
  settle(fn, what.c_str());
}

void Communicator::allReduce(const char* fn, const std::vector<FloatSpan>& spans, ReduceOp op) {
  const int ncclOp = op == ReduceOp::Avg ? kOpAvg : kOpSum;
  group(fn, "all-reduce of " + spansWord(spans.size()), spans, [&](const FloatSpan& x, cudaStream_t s) {
    return api_.allReduce(x.data, x.data, x.count, kFloat32, ncclOp, comm_, s);
  });
}

void Communicator::broadcast(const char* fn, const std::vector<FloatSpan>& spans, int root) {
  group(fn, "broadcast of " + spansWord(spans.size()) + " from rank " + std::to_string(root), spans,
        [&](const FloatSpan& x, cudaStream_t s) {
          return api_.broadcast(x.data, x.data, x.count, kFloat32, root, comm_, s);
        });
}

cudaEvent_t Communicator::mark(const char* fn, std::string* what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!comm_) throw s4::Error(std::string(fn) + ": the communicator " + ended_);
  cudaEvent_t event = nullptr;
  S4_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  const cudaError_t err = cudaEventRecord(event, cuda::stream());
  if (err != cudaSuccess) {
    cudaEventDestroy(event);
    cuda::throwCuda(err, "cudaEventRecord", __FILE__, __LINE__);
  }
  *what = lastOp_.empty() ? "queued collectives" : lastOp_;
  return event;
}

bool Communicator::poll(const char* fn, cudaEvent_t event, const std::string& what, Clock::time_point deadline, int waitMs) {
  const cudaError_t q = cudaEventQuery(event);
  if (q != cudaSuccess && q != cudaErrorNotReady) {
    cudaGetLastError();
    std::lock_guard<std::mutex> lock(mu_);
    failLocked(std::string(fn) + ": CUDA error while waiting for the " + what + " (" + where() + "): " +
               cudaGetErrorString(q) + "; the communicator was aborted");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (comm_) {
    Result state = kSuccess;
    const Result r = api_.commGetAsyncError(comm_, &state);
    if (r != kSuccess) state = r;
    if (state != kSuccess && state != kInProgress)
      failLocked(std::string(fn) + ": NCCL failed during the " + what + " (" + where() + "): " +
                 describe(api_, state, comm_) + "; a rank may have died or hung; the communicator was aborted");
  } else if (aborted_) {
    // Aborted while we waited (abort(), or another waiter's deadline): the results are not valid.
    throw s4::Error(std::string(fn) + ": the communicator " + ended_ + " while waiting for the " + what + " (" +
                    where() + ")");
  }
  if (q == cudaSuccess) return true;
  if (Clock::now() >= deadline) {
    const std::string message = std::string(fn) + ": the " + what + " did not complete within " + seconds(waitMs) +
                                " (" + where() + "); a rank may have died or hung; the communicator was aborted";
    failLocked(message);
  }
  return false;
}

void Communicator::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  abortLocked("was aborted (abort() was called)");
}

void Communicator::destroy(const char* fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!comm_) {
    if (ended_.empty()) ended_ = "has been destroyed";
    return;
  }
  const Result r = api_.commFinalize(comm_);
  if (r != kSuccess && r != kInProgress)
    failLocked(std::string(fn) + ": ncclCommFinalize failed (" + where() + "): " + describe(api_, r, comm_) +
               "; the communicator was aborted");
  settle(fn, "flush of the queued collectives before destroying the communicator");
  api_.commDestroy(comm_);
  comm_ = nullptr;
  ended_ = "has been destroyed";
}

}  // namespace s4::nccl
