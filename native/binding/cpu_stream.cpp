#include "cpu_stream.h"

#include <string>

#include "../common/error.h"
#include "buffer.h"
#include "op_spec.h"

namespace s4::binding {
namespace {

thread_local std::unique_ptr<CpuProgram> tRecording;

}  // namespace

CpuProgram* recordingProgram() { return tRecording.get(); }

void beginRecording(const char* fn) {
  if (tRecording) fail(std::string(fn) + ": an async call is already being recorded (async calls do not nest)");
  tRecording = std::make_unique<CpuProgram>();
}

std::unique_ptr<CpuProgram> endRecording(const char* fn) {
  if (!tRecording) fail(std::string(fn) + ": no async call is being recorded");
  return std::move(tRecording);
}

void recordOp(const OpSpec& spec, const Call& call, const Napi::CallbackInfo& info) {
  CpuProgram* p = tRecording.get();
  for (size_t i = 0; i < info.Length() && i < spec.args.size(); i++) {
    BufferHandle* h = BufferHandle::unwrap(info[i]);
    if (h && h->storage()) p->keep.push_back(h->storage());
  }
  const OpSpec* s = &spec;
  Call copy = call;  // a non-const copy: the run function takes Call&
  p->tasks.push_back([s, copy]() mutable { s->fn(copy); });
}

void CpuStream::waitTurn(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_.load() + 1 == ticket; });
}

void CpuStream::complete(uint64_t ticket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_.store(ticket);
  }
  cv_.notify_all();
}

void CpuStream::drain() {
  if (done_.load() == issued_.load()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_.load() == issued_.load(); });
}

CpuStream& cpuStream() {
  static CpuStream* s = new CpuStream();  // never destroyed: workers may outlive static teardown
  return *s;
}

void syncCpuWork(const char* fn) {
  if (tRecording)
    fail(std::string(fn) + ": cannot read or write a CPU buffer synchronously inside an async call (forwardAsync, stepAsync); "
                           "await the call, then read the result");
  cpuStream().drain();
}

}  // namespace s4::binding
