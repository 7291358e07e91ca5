// cuFFT, opened at run time with dlopen (libcufft.so.12, .11, then libcufft.so) so the
// addon loads on machines without it. Only the entry points we use are declared here, in
// our own header, because the build machine need not have cuFFT headers.
// Plans are cached by (type, n, batch, idist, odist), created once and reused, bound to
// s4::cuda::stream(), and destroyed at exit.
#pragma once
#include <cuda_runtime.h>
#include <string>

namespace s4::cufft {

// True when the library loaded and every entry point resolved; otherwise *why says why.
bool available(std::string* why = nullptr);
// cufftGetVersion(), e.g. 12000; -1 when unavailable.
int version();

// Batched real-to-complex: `batch` signals of n reals, signal b starting at in + b*idist;
// output n/2+1 complex per signal at out + b*odist (units: elements of each type).
void r2c(int n, int batch, const float* in, long long idist, float2* out, long long odist);
// Batched complex-to-real (unnormalized, like cuFFT): n/2+1 complex in, n reals out.
// Like every cuFFT C2R transform, it may overwrite its input.
void c2r(int n, int batch, const float2* in, long long idist, float* out, long long odist);

void destroyPlans();

}  // namespace s4::cufft
