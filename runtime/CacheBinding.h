//===- CacheBinding.h - What a graph's KV-cache handle points to ----------===//

#ifndef DGC_RUNTIME_CACHEBINDING_H
#define DGC_RUNTIME_CACHEBINDING_H

#include "dgc/runtime/KVCache.h"

#include <string>
#include <vector>

namespace dgc::runtime {

/// One pool of a KVCache seen by one graph call: row b of the batch is
/// request requests[b].
struct CacheBinding {
  KVCache *cache = nullptr;
  int64_t pool = 0;
  std::vector<RequestId> requests;
  /// The first error raised inside the call.
  std::string error;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_CACHEBINDING_H
