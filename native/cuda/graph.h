// Whole-step launches: a fixed sequence of op launches on the stream, captured once as a
// CUDA graph and launched again as one. A model's single-token step is about twenty small
// launches whose host cost (about 5 us each) is the whole step at small batch; one graph
// launch replaces them. See docs/ARCHITECTURE.md, "Memory and streams".
#pragma once
#include <cuda_runtime.h>

namespace s4::cuda {

// True between captureBegin and captureEnd. While true the caching allocator refuses to
// allocate: a graph keeps the pointers it saw, and scratch memory freed after the capture
// would be handed to other ops while the graph still writes it.
bool capturing();

// Starts recording the stream's launches instead of running them.
void captureBegin();
// Ends the recording. keep: instantiate and return the graph (throws, the capture ended,
// when the recorded work cannot form one); !keep: discard it and return null.
cudaGraphExec_t captureEnd(bool keep);
void graphLaunch(cudaGraphExec_t graph);
void graphDestroy(cudaGraphExec_t graph);

}  // namespace s4::cuda
