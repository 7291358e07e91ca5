// captureGraph(fn) -> graph and launchGraph(graph): the CUDA graph of the op launches fn
// makes (native/cuda/graph.h), held by an opaque JS handle that destroys it when collected
// or released. fn's ops are recorded, not run: the caller launches the graph to run them.
#include <napi.h>

#include <string>
#include <unordered_set>

#include "../common/error.h"
#include "js_function.h"
#ifdef S4_WITH_CUDA
#include "../cuda/device_info.h"
#include "../cuda/graph.h"
#endif

namespace s4::binding {
namespace {

#ifdef S4_WITH_CUDA
struct GraphBox;
// The live graphs: an external value is a graph handle only if its pointer is one of these.
std::unordered_set<GraphBox*>& liveGraphs() {
  static std::unordered_set<GraphBox*> all;
  return all;
}

struct GraphBox {
  cudaGraphExec_t exec = nullptr;
  GraphBox() { liveGraphs().insert(this); }
  ~GraphBox() {
    liveGraphs().erase(this);
    cuda::graphDestroy(exec);
  }
};

GraphBox* unwrapGraph(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  auto* box = static_cast<GraphBox*>(v.As<Napi::External<void>>().Data());
  return liveGraphs().count(box) ? box : nullptr;
}
#endif

Napi::Value captureGraph(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsFunction())
    throw s4::Error("captureGraph: argument 'fn' must be a function that issues the ops to capture", ErrorKind::Type);
#ifdef S4_WITH_CUDA
  const cuda::DeviceInfo dev = cuda::probe();
  if (!dev.usable) throw s4::Error("captureGraph: the cuda backend is unavailable: " + dev.reason);
  cuda::captureBegin();
  try {
    info[0].As<Napi::Function>().Call({});
  } catch (...) {
    cuda::captureEnd(false);
    throw;
  }
  auto* box = new GraphBox();
  try {
    box->exec = cuda::captureEnd(true);
  } catch (...) {
    delete box;
    throw;
  }
  return Napi::External<GraphBox>::New(info.Env(), box, [](Napi::Env, GraphBox* b) { delete b; });
#else
  throw s4::Error("captureGraph: the cuda backend is unavailable: this build of s4-cuda was compiled without CUDA");
#endif
}

Napi::Value launchGraph(const Napi::CallbackInfo& info) {
#ifdef S4_WITH_CUDA
  GraphBox* box = info.Length() == 1 ? unwrapGraph(info[0]) : nullptr;
  if (!box) throw s4::Error("launchGraph: argument 'graph' must be a graph returned by captureGraph", ErrorKind::Type);
  cuda::graphLaunch(box->exec);
  return info.Env().Undefined();
#else
  throw s4::Error("launchGraph: argument 'graph' must be a graph returned by captureGraph (this build has no CUDA)",
                  ErrorKind::Type);
#endif
}

}  // namespace

void exportGraph(Napi::Env env, Napi::Object exports) {
  exports.Set("captureGraph", makeFunction(env, "captureGraph", captureGraph));
  exports.Set("launchGraph", makeFunction(env, "launchGraph", launchGraph));
}

}  // namespace s4::binding
