//===- SafetensorsWriter.h - Writes tensors as one .safetensors file ------===//
//
// The benchmarks hand their inputs and outputs to Python peers this way;
// the runtime itself only reads checkpoints.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_BENCH_SAFETENSORSWRITER_H
#define DGC_BENCH_SAFETENSORSWRITER_H

#include "dgc/runtime/Result.h"
#include "dgc/runtime/Safetensors.h"

#include <string>
#include <vector>

namespace dgc::runtime {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
  size_t bytes;
};

/// Writes `entries` in order, each contiguous, to `path`.
Status writeSafetensors(const std::string &path,
                        const std::vector<SafetensorsEntry> &entries);

} // namespace dgc::runtime

#endif // DGC_BENCH_SAFETENSORSWRITER_H
