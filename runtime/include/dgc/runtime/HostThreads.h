//===- HostThreads.h - Threads for host code's parallel loops --*- C++ -*-===//
//
// A host.so splits each large parallel loop nest of its graphs into chunks of
// its outer iterations and hands them to the function its
// kParallelForSymbol variable points to; CompiledModule points it at
// hostParallelFor, which runs the chunks on a pool of threads (the caller
// among them) and returns when all are done. Nothing is reordered within a
// chunk, so results do not depend on the thread count.
//
//   setHostThreads(4); // before graphs run; 0: one per core
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_HOSTTHREADS_H
#define DGC_RUNTIME_HOSTTHREADS_H

#include <cstdint>

namespace dgc::runtime {

/// Runs iterations [begin, end) of a loop nest's outer loop with `context`.
using ParallelBody = void (*)(void *context, int64_t begin, int64_t end);

/// Threads for host code from now on, the caller included: 1 runs every
/// loop on the calling thread; 0 (the default) means one per core.
void setHostThreads(unsigned threads);
/// The threads host code runs on (setHostThreads, resolved).
unsigned hostThreads();

/// Runs `body` over [0, count) in chunks on the host threads and returns once
/// every chunk has run. A call while another is running (graphs called from
/// two threads) runs on its own thread alone.
void hostParallelFor(ParallelBody body, void *context, int64_t count);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_HOSTTHREADS_H
