// A stand-in for libnccl.so.2 that needs no GPU, for test/nccl_comm_state.test.ts: it plays
// NCCL's non-blocking protocol (calls answer ncclInProgress, the state is polled with
// ncclCommGetAsyncError) and logs every call to stderr, so the test can check what the
// communicator (native/cuda/nccl_comm.cpp) asks of NCCL and how it ends each wait.
// Environment:
//   FAKE_NCCL_VERSION      what ncclGetVersion answers (default 23007)
//   FAKE_NCCL_INIT_POLLS   polls before the set-up succeeds; -1: it never does
//   FAKE_NCCL_INIT_FAIL    1: ncclCommInitRankConfig fails at once (ncclSystemError)
//   FAKE_NCCL_GROUP_POLLS  polls before a group is queued; -1: it never is
//   FAKE_NCCL_GROUP_ERROR  the asynchronous error a group ends with (e.g. 6, ncclRemoteError)
//   FAKE_NCCL_FINAL_POLLS  polls before ncclCommFinalize completes; -1: it never does
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr int kInProgress = 7;

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

}  // namespace

extern "C" {

struct ncclComm {
  int state;      // what ncclCommGetAsyncError answers once pollsLeft reaches 0
  int pending;    // 1 while an operation is in progress
  int pollsLeft;  // -1: forever
};
struct ncclUniqueId {
  char internal[128];
};
struct ncclConfigPrefix {
  size_t size;
  unsigned int magic, version;
  int blocking;
};

static ncclComm* gLast = nullptr;
static int gGroupOps = 0;

static void begin(ncclComm* c, int polls, int result) {
  c->pending = 1;
  c->pollsLeft = polls;
  c->state = result;
}

int ncclGetVersion(int* version) {
  *version = envInt("FAKE_NCCL_VERSION", 23007);
  return 0;
}

int ncclGetUniqueId(ncclUniqueId* id) {
  for (int i = 0; i < 128; i++) id->internal[i] = static_cast<char>(i);
  return 0;
}

int ncclCommInitRankConfig(ncclComm** comm, int nranks, ncclUniqueId id, int rank, ncclConfigPrefix* config) {
  bool idOk = true;
  for (int i = 0; i < 128; i++) idOk = idOk && id.internal[i] == static_cast<char>(i);
  std::fprintf(stderr, "fake: init nranks=%d rank=%d id=%s size=%zu magic=%x version=%u blocking=%d\n", nranks, rank,
               idOk ? "ok" : "bad", config->size, config->magic, config->version, config->blocking);
  *comm = gLast = new ncclComm{0, 0, 0};
  if (envInt("FAKE_NCCL_INIT_FAIL", 0)) return 2;
  begin(*comm, envInt("FAKE_NCCL_INIT_POLLS", 2), 0);
  return kInProgress;
}

int ncclCommGetAsyncError(ncclComm* comm, int* state) {
  if (comm->pending && comm->pollsLeft >= 0 && comm->pollsLeft-- == 0) comm->pending = 0;
  *state = comm->pending ? kInProgress : comm->state;
  return 0;
}

int ncclCommFinalize(ncclComm* comm) {
  std::fprintf(stderr, "fake: finalize\n");
  begin(comm, envInt("FAKE_NCCL_FINAL_POLLS", 2), 0);
  return kInProgress;
}

int ncclCommDestroy(ncclComm* comm) {
  std::fprintf(stderr, "fake: destroy\n");
  delete comm;
  return 0;
}

int ncclCommAbort(ncclComm* comm) {
  std::fprintf(stderr, "fake: abort\n");
  delete comm;
  return 0;
}

int ncclAllReduce(const void* send, void* recv, size_t count, int datatype, int op, ncclComm*, void*) {
  std::fprintf(stderr, "fake: allReduce count=%zu datatype=%d op=%d inPlace=%d\n", count, datatype, op, send == recv);
  gGroupOps++;
  return 0;
}

int ncclBroadcast(const void* send, void* recv, size_t count, int datatype, int root, ncclComm*, void*) {
  std::fprintf(stderr, "fake: broadcast count=%zu datatype=%d root=%d inPlace=%d\n", count, datatype, root, send == recv);
  gGroupOps++;
  return 0;
}

int ncclGroupStart() {
  gGroupOps = 0;
  return 0;
}

int ncclGroupEnd() {
  std::fprintf(stderr, "fake: groupEnd ops=%d\n", gGroupOps);
  begin(gLast, envInt("FAKE_NCCL_GROUP_POLLS", 2), envInt("FAKE_NCCL_GROUP_ERROR", 0));
  return kInProgress;
}

const char* ncclGetErrorString(int result) {
  static std::string s;
  s = "fake NCCL error " + std::to_string(result);
  return s.c_str();
}

const char* ncclGetLastError(ncclComm*) { return "fake detail"; }

}  // extern "C"
