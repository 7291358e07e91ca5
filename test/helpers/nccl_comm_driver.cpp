// Drives the NCCL communicator (native/cuda/nccl_comm.cpp, nccl_api.cpp) against the fake
// NCCL of nccl_fake.cpp (S4_NCCL_PATH names it), with the few CUDA runtime calls it makes
// stubbed here, so test/nccl_comm_state.test.ts can check every deadline and error path on
// a machine without a GPU. Usage: nccl_comm_driver <scenario>; prints one line per outcome.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../../native/cuda/context.h"
#include "../../native/cuda/nccl_comm.h"

using s4::nccl::Communicator;
using s4::nccl::FloatSpan;
using s4::nccl::ReduceOp;

namespace {

// How many more queries of the (one) event answer "not ready"; negative: it completes.
long gEventPending = 0;

}  // namespace

extern "C" {
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  *event = reinterpret_cast<cudaEvent_t>(&gEventPending);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventQuery(cudaEvent_t) { return gEventPending-- > 0 ? cudaErrorNotReady : cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t) { return "stubbed CUDA error"; }
}

namespace s4::cuda {
cudaStream_t stream() { return nullptr; }
void throwCuda(cudaError_t, const char* what, const char*, int) { throw s4::Error(std::string("CUDA error in ") + what); }
}  // namespace s4::cuda

namespace {

const int kTimeoutMs = 300;

void say(const char* what, const std::string& text) { std::printf("%s: %s\n", what, text.c_str()); }

template <typename F>
void attempt(const char* what, F&& f) {
  try {
    f();
    say(what, "ok");
  } catch (const s4::Error& e) {
    say(what, e.what());
  }
}

// wait(): polls as native/binding/nccl.cpp's worker does.
void waitFor(Communicator& c, long pendingPolls, int timeoutMs) {
  std::string what;
  cudaEvent_t event = c.mark("ncclWait", &what);
  gEventPending = pendingPolls;
  const auto deadline = Communicator::Clock::now() + std::chrono::milliseconds(timeoutMs);
  s4::nccl::PollPause pause;
  while (!c.poll("ncclWait", event, what, deadline, timeoutMs)) pause();
  cudaEventDestroy(event);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "";
  const s4::nccl::LoadInfo& info = s4::nccl::info();
  say("info", info.loaded ? "loaded " + info.version : "not loaded: " + info.reason);
  if (!info.loaded) return 0;
  s4::nccl::UniqueId id = s4::nccl::uniqueId("driver");
  std::shared_ptr<Communicator> c;
  attempt("create", [&] { c = Communicator::create(id, 1, 2, 0, kTimeoutMs); });
  if (!c) return 0;
  float memory[16];
  const std::vector<FloatSpan> spans{{memory, 8}, {memory + 8, 0}, {memory + 9, 3}};
  if (scenario == "collectives") {
    attempt("allReduce", [&] { c->allReduce("ncclAllReduce", spans, ReduceOp::Avg); });
    attempt("broadcast", [&] { c->broadcast("ncclBroadcast", spans, 1); });
    attempt("wait", [&] { waitFor(*c, 5, kTimeoutMs); });
    attempt("destroy", [&] { c->destroy("ncclDestroy"); });
    attempt("destroy again", [&] { c->destroy("ncclDestroy"); });
    attempt("allReduce after destroy", [&] { c->allReduce("ncclAllReduce", spans, ReduceOp::Sum); });
  } else if (scenario == "group") {
    attempt("allReduce", [&] { c->allReduce("ncclAllReduce", spans, ReduceOp::Sum); });
    attempt("broadcast after", [&] { c->broadcast("ncclBroadcast", spans, 0); });
  } else if (scenario == "wait-hang") {
    attempt("allReduce", [&] { c->allReduce("ncclAllReduce", spans, ReduceOp::Sum); });
    attempt("wait", [&] { waitFor(*c, 1L << 40, kTimeoutMs); });
    attempt("allReduce after", [&] { c->allReduce("ncclAllReduce", spans, ReduceOp::Sum); });
    attempt("destroy", [&] { c->destroy("ncclDestroy"); });
  } else if (scenario == "abort-during-wait") {
    attempt("allReduce", [&] { c->allReduce("ncclAllReduce", spans, ReduceOp::Sum); });
    std::thread waiter([&] { attempt("wait", [&] { waitFor(*c, 1L << 40, 5000); }); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    c->abort();
    waiter.join();
    attempt("abort again", [&] { c->abort(); });
  } else if (scenario == "destroy") {
    attempt("destroy", [&] { c->destroy("ncclDestroy"); });
    attempt("destroy again", [&] { c->destroy("ncclDestroy"); });
  } else if (scenario == "drop") {
    c.reset();  // never destroyed: the destructor aborts
    say("dropped", "ok");
  }
  return 0;
}
