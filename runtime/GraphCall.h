//===- GraphCall.h - The pieces of a graph call -----------------*- C++ -*-===//

#ifndef DGC_RUNTIME_GRAPHCALL_H
#define DGC_RUNTIME_GRAPHCALL_H

#include "dgc/runtime/CompiledModule.h"

#include "CudaDriver.h"

#include <set>

namespace dgc::runtime {

/// "[2, 3]".
std::string shapeString(const std::vector<int64_t> &shape);

/// The most pointers a graph's C entry point takes (results, inputs, a pool
/// and a table per cache).
constexpr int kMaxGraphPointers = 14;

/// A graph call's arguments: the results' descriptors, then one descriptor
/// per argument.
struct CallFrame {
  const GraphSpec *graph = nullptr;
  std::vector<int64_t> results;
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> args;
  /// Buffers the call reads (a result viewing one is not the caller's).
  std::set<const void *> inputBuffers;
  /// Inputs copied to GPU-reachable memory: input `input` (its table when
  /// `table`) at `device`.
  struct Placed {
    size_t input;
    bool table;
    void *device;
    size_t bytes;
  };
  std::vector<Placed> placed;
};

/// A graph's kernels recorded for one set of input shapes, with the
/// buffers (device or managed memory) its inputs live in.
struct CompiledModule::Recorded {
  CudaDevice *device = nullptr;
  std::string key;
  std::unique_ptr<CudaDevice::Recording> recording;
  CallFrame frame;
  std::vector<void *> buffers;
  ~Recorded() {
    recording.reset(); // waits for the replay before its inputs go
    for (void *b : buffers)
      device->release(b);
  }
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_GRAPHCALL_H
