// Runs the long-row FFT convolution kernels (native/cuda/conv_long_kernels.cuh) as host
// C++, one thread per block (test/helpers/cuda_emulation/cuda_runtime.h), with the launch
// sequence of native/cuda/conv_long.cu, and prints the relative L2 error of each result
// against the direct sums in double:
//   conv_long_emulation B H L [THREADS]
//   -> lines "chunks: c" (pass B's batch chunks), then "y: e", "corr: e", "du: e", "dk: e", "dd: e", "dkNoDu: e", "ddNoDu: e"
// (corr: the correlation alone, as the backward without dk runs it; dkNoDu / ddNoDu: the
// backward with dk and dd but not du). Rows longer than 4096 are compared at a spread of
// positions; dd, a direct sum on the device, over all. THREADS (default 1) host threads run
// each block, with __syncthreads a barrier between them: built with -fsanitize=thread, a
// shared-memory access that a missing barrier leaves unordered is reported as a data race.
#include <cuda_runtime.h>

#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <thread>
#include <vector>

thread_local EmulatedDim3 threadIdx;
EmulatedDim3 blockIdx, blockDim, gridDim;

namespace {
int threadsPerBlock = 1;
std::barrier<>* blockBarrier = nullptr;
}  // namespace

void __syncthreads() {
  if (blockBarrier) blockBarrier->arrive_and_wait();
}

namespace s4::cuda {
namespace {
// The kernels' dynamic shared memory (extern __shared__ sh / smem): three padded buffers of
// 4096 points at most.
float2 sh[3 * (4096 + 512)];
float2 smem[3 * (4096 + 512)];
}  // namespace
const float2* fftTwiddles(int) { return nullptr; }  // declared by fft_radix.cuh; unused here
}  // namespace s4::cuda

#include "conv_long_kernels.cuh"

using namespace s4::cuda;

namespace {

std::vector<float2> twiddles(int M) {  // fft_twiddles.cu: exp(-2 pi i k / 2M) in double, rounded
  std::vector<float2> tw(M);
  for (int k = 0; k < M; ++k) tw[k] = make_float2(float(std::cos(-M_PI * k / M)), float(std::sin(-M_PI * k / M)));
  return tw;
}

// Runs one block: threadsPerBlock host threads, joined before the next block starts.
void runBlock(const std::function<void()>& kernel) {
  if (threadsPerBlock == 1) {
    threadIdx.x = 0;
    kernel();
    return;
  }
  std::barrier<> barrier(threadsPerBlock);
  blockBarrier = &barrier;
  std::vector<std::thread> threads;
  for (int t = 0; t < threadsPerBlock; ++t) {
    threads.emplace_back([&kernel, t] {
      threadIdx.x = unsigned(t);
      kernel();
    });
  }
  for (auto& th : threads) th.join();
  blockBarrier = nullptr;
}

void launch(long long gx, unsigned gy, const std::function<void()>& kernel) {
  blockDim.x = unsigned(threadsPerBlock);
  gridDim.x = unsigned(gx);
  gridDim.y = gy;
  for (unsigned y = 0; y < gy; ++y) {
    for (long long x = 0; x < gx; ++x) {
      blockIdx.x = unsigned(x);
      blockIdx.y = y;
      runBlock(kernel);
    }
  }
}

unsigned colBlocks(const Geom& g) { return unsigned((1 << g.logM2) >> g.logC); }
unsigned unitBlocks(const Geom& g) { return unsigned(((1 << g.logM1) / 2) / g.G); }

// longConv of conv_long.cu
void conv(const float* u, const float* k, const float* d, float* y, long long B, long long H, int L, bool corr) {
  const Geom g = longGeom(L);
  const auto tw = twiddles(1 << g.logM);
  const long long bh = B * H, rows = bh + H;
  std::vector<float2> ws(size_t(rows) << g.logM, make_float2(NAN, NAN));
  float2* kRows = ws.data() + (bh << g.logM);
  launch(rows, colBlocks(g), [&] { longPassAKernel(ForwardRows{u, k, bh}, ws.data(), L, tw.data(), g); });
  launch(H, unitBlocks(g), [&] { longSpectrumKernel(kRows, tw.data(), g); });
  launch(bh, unitBlocks(g), [&] {
    if (corr) longProductKernel<true>(ws.data(), kRows, d, int(H), tw.data(), g);
    else longProductKernel<false>(ws.data(), kRows, d, int(H), tw.data(), g);
  });
  launch(bh, colBlocks(g), [&] { longPassCKernel(ws.data(), CropRows{y, bh, nullptr}, L, tw.data(), g); });
}

// longConvBackward of conv_long.cu with dk (without dk it runs conv() and a channel sum)
void backward(const float* dy, const float* u, const float* k, const float* d, float* du, float* dk, float* dd, long long B,
              long long H, int L) {
  const Geom g = longGeom(L);
  const auto tw = twiddles(1 << g.logM);
  const long long bh = B * H, rows = 2 * bh + H;
  std::vector<float2> ws(size_t(rows) << g.logM, make_float2(NAN, NAN));
  float2* kRows = ws.data() + (bh << g.logM);
  float2* uRows = ws.data() + ((bh + H) << g.logM);
  std::vector<double> ddPart(size_t(bh) * colBlocks(g), NAN);
  launch(rows, colBlocks(g), [&] {
    longBackwardPassAKernel(BackwardRows{dy, u, k, bh}, ws.data(), dd ? ddPart.data() : nullptr, int(H), L, tw.data(), g);
  });
  int chunks = longBackwardChunks(B, H, g);
  const int perChunk = int((B + chunks - 1) / chunks);
  chunks = int((B + perChunk - 1) / perChunk);
  std::vector<float2> gPart(size_t(chunks * H) << g.logM, make_float2(NAN, NAN));
  const auto pass = [&](auto kernel) {  // grid (H, unit blocks, chunks)
    for (unsigned z = 0; z < unsigned(chunks); ++z) {
      blockIdx.z = z;
      launch(H, unitBlocks(g), [&] { kernel(); });
    }
    blockIdx.z = 0;
  };
  if (du) {
    launch(H, unitBlocks(g), [&] { longSpectrumKernel(kRows, tw.data(), g); });
    pass([&] { longBackwardKernel<true>(ws.data(), uRows, kRows, d, int(B), int(H), perChunk, gPart.data(), tw.data(), g); });
  } else {
    pass([&] { longBackwardKernel<false>(ws.data(), uRows, kRows, d, int(B), int(H), perChunk, gPart.data(), tw.data(), g); });
  }
  launch(H, unitBlocks(g), [&] { longGradKernel(gPart.data(), chunks, kRows, int(H), tw.data(), g); });
  if (du) launch(bh + H, colBlocks(g), [&] { longPassCKernel(ws.data(), CropRows{du, bh, dk}, L, tw.data(), g); });
  else launch(H, colBlocks(g), [&] { longPassCKernel(kRows, CropRows{nullptr, 0, dk}, L, tw.data(), g); });
  if (dd) launch((H + threadsPerBlock - 1) / threadsPerBlock, 1, [&] { longDdKernel(ddPart.data(), dd, B, int(H), int(colBlocks(g))); });
}

// ||a - b|| / ||b|| over the positions `ts` of each of `rows` rows of length L (NaN: infinite).
double relL2(const std::vector<float>& a, const std::vector<double>& b, long long rows, int L, const std::vector<int>& ts) {
  double num = 0, den = 0;
  for (long long r = 0; r < rows; ++r) {
    for (int t : ts) {
      const double x = a[r * L + t], e = x - b[r * L + t];
      if (!std::isfinite(x)) return INFINITY;
      num += e * e;
      den += b[r * L + t] * b[r * L + t];
    }
  }
  return std::sqrt(num / den);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: conv_long_emulation B H L [THREADS]\n");
    return 2;
  }
  if (argc == 5) threadsPerBlock = std::atoi(argv[4]);
  const long long B = std::atoll(argv[1]), H = std::atoll(argv[2]);
  const int L = std::atoi(argv[3]);
  std::vector<int> ts;
  for (int t = 0; t < L; ++t)
    if (L <= 4096 || t % 61 == 0 || t < 64 || t >= L - 64) ts.push_back(t);
  std::mt19937 rng(unsigned(L + 7 * B + 13 * H));
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  std::vector<float> u(B * H * L), k(H * L), d(H), dy(B * H * L);
  for (auto& v : u) v = uni(rng);
  for (long long i = 0; i < H * L; ++i) k[i] = uni(rng) * float(std::exp(-double(i % L) / (L / 4.0)));
  for (auto& v : d) v = uni(rng);
  for (auto& v : dy) v = uni(rng);

  // direct sums at the positions ts (dd over all of them)
  std::vector<double> y(B * H * L), du(B * H * L), dk(H * L), dd(H);
  for (long long r = 0; r < B * H; ++r) {
    const long long h = r % H;
    const float *ur = &u[r * L], *gr = &dy[r * L], *kh = &k[h * L];
    for (int t : ts) {
      double a = double(d[h]) * ur[t];
      for (int s = 0; s <= t; ++s) a += double(kh[s]) * ur[t - s];
      y[r * L + t] = a;
      double c = double(d[h]) * gr[t], e = 0;
      for (int s = t; s < L; ++s) {
        c += double(kh[s - t]) * gr[s];
        e += double(ur[s - t]) * gr[s];
      }
      du[r * L + t] = c;
      dk[h * L + t] += e;
    }
    for (int t = 0; t < L; ++t) dd[h] += double(gr[t]) * ur[t];
  }

  std::vector<float> fy(B * H * L), fc(B * H * L), fdu(B * H * L), fdk(H * L), fdd(H), odk(H * L), odd(H);
  conv(u.data(), k.data(), d.data(), fy.data(), B, H, L, false);
  conv(dy.data(), k.data(), d.data(), fc.data(), B, H, L, true);
  backward(dy.data(), u.data(), k.data(), d.data(), fdu.data(), fdk.data(), fdd.data(), B, H, L);
  backward(dy.data(), u.data(), k.data(), d.data(), nullptr, odk.data(), odd.data(), B, H, L);
  const std::vector<int> zero{0};
  const int perChunk = int((B + longBackwardChunks(B, H, longGeom(L)) - 1) / longBackwardChunks(B, H, longGeom(L)));
  std::printf("chunks: %d\n", int((B + perChunk - 1) / perChunk));
  std::printf("y: %.3e\ncorr: %.3e\ndu: %.3e\ndk: %.3e\ndd: %.3e\ndkNoDu: %.3e\nddNoDu: %.3e\n", relL2(fy, y, B * H, L, ts),
              relL2(fc, du, B * H, L, ts), relL2(fdu, du, B * H, L, ts), relL2(fdk, dk, H, L, ts),
              relL2(fdd, dd, H, 1, zero), relL2(odk, dk, H, L, ts), relL2(odd, dd, H, 1, zero));
  return 0;
}
