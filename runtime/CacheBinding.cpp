//===- CacheBinding.cpp - The table a graph reads the KV cache through ----===//

#include "CacheBinding.h"

#include <algorithm>

namespace dgc::runtime {

Status CacheBinding::prepare() {
  int64_t positions = 0;
  for (RequestId id : requests) {
    Result<int64_t> reserved = cache->reservedLength(id);
    if (!reserved)
      return Error{reserved.error()};
    positions = std::max(positions, *reserved);
  }
  columns = kHeader + positions;
  table.assign(requests.size() * columns, -1);
  for (size_t b = 0; b < requests.size(); ++b) {
    int64_t *row = table.data() + b * columns;
    row[0] = *cache->committedLength(requests[b]);
    row[1] = cache->pageSize();
    row[2] = kNoError;
    if (Status s = cache->rowTable(requests[b], pool, positions, row + kHeader);
        !s)
      return s;
  }
  return {};
}

Status CacheBinding::rejectedWrites() const {
  for (size_t b = 0; b < requests.size(); ++b) {
    int64_t position = table[b * columns + 2];
    if (position == kNoError)
      continue;
    // The table does not say which rule the write broke: the cache does.
    for (WriteMode mode : {WriteMode::Commit, WriteMode::Scratch})
      if (Status s = cache->checkWrite(requests[b], pool, position, mode); !s)
        return s;
    return Error{"request " + std::to_string(requests[b]) +
                 ": the graph could not write position " +
                 std::to_string(position)};
  }
  return {};
}

} // namespace dgc::runtime
