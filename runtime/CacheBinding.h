//===- CacheBinding.h - What a graph's KV-cache inputs point to -----------===//
//
// A compiled graph reads and writes a pool through two buffers (see
// docs/module-format.md): the pool's storage, and a table the binding fills
// before the call:
//
//   table[b][0]      committed length L of request b
//   table[b][1]      page size
//   table[b][2]      error cell: kNoError, or a position the graph could not
//                    write (outside the reservation, in a recycled page, or
//                    scratch below the committed length)
//   table[b][3]      the first position F the table lists: 0, or for a
//                    sliding pool max(0, L - window + 1), since no query of
//                    a pass (all at or after L) sees a key before it
//   table[b][4 + s]  pool row of position F + s's layer-0 K, or -1
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_CACHEBINDING_H
#define DGC_RUNTIME_CACHEBINDING_H

#include "dgc/runtime/KVCache.h"
#include "dgc/runtime/ModuleFormat.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dgc::runtime {

/// One pool of a KVCache seen by one graph call: row b of the batch is
/// request requests[b].
struct CacheBinding {
  // The table's layout, shared with the compiler (ModuleFormat.h).
  static constexpr int64_t kHeader = kKVTableHeader;
  static constexpr int64_t kNoError = kKVTableNoError;

  KVCache *cache = nullptr;
  int64_t pool = 0;
  std::vector<RequestId> requests;
  /// [requests][columns], filled by prepare().
  std::vector<int64_t> table;
  int64_t columns = 0;

  /// Fills the table for positions from each request's first visible one
  /// up to its reservation (the longest of the batch sets the width).
  Status prepare();
  /// The first write the graph could not make, named; success if none.
  Status rejectedWrites() const;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_CACHEBINDING_H
