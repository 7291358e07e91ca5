// CUDA graph capture of the stream (graph.h).
#include <atomic>
#include <string>

#include "context.h"
#include "graph.h"

namespace s4::cuda {
namespace {
std::atomic<bool> gCapturing{false};
}  // namespace

bool capturing() { return gCapturing.load(std::memory_order_relaxed); }

void captureBegin() {
  if (capturing()) throw s4::Error("a graph capture is already in progress", ErrorKind::Range);
  // Thread-local mode: only this thread's unsafe calls (a synchronization, a blocking copy)
  // invalidate the capture; the addon's worker threads are not touched.
  S4_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  gCapturing = true;
}

cudaGraphExec_t captureEnd(bool keep) {
  gCapturing = false;
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
  if (!keep || ended != cudaSuccess) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // an invalidated capture leaves its error; the stream is usable again
    if (keep) throw s4::Error(std::string("the captured launches cannot form a CUDA graph: ") + cudaGetErrorString(ended));
    return nullptr;
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (made != cudaSuccess) throwCuda(made, "cudaGraphInstantiate", __FILE__, __LINE__);
  return exec;
}

void graphLaunch(cudaGraphExec_t graph) { S4_CUDA_CHECK(cudaGraphLaunch(graph, stream())); }

void graphDestroy(cudaGraphExec_t graph) {
  if (graph) cudaGraphExecDestroy(graph);
}

}  // namespace s4::cuda
