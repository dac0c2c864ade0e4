//===- CacheBinding.cpp - The table a graph reads the KV cache through ----===//

#include "CacheBinding.h"

#include <algorithm>

namespace dgc::runtime {

Status CacheBinding::prepare() {
  int64_t window = cache->pools().at(pool).window;
  std::vector<int64_t> first(requests.size(), 0), reserved(requests.size()),
      committed(requests.size());
  int64_t positions = 0;
  for (size_t b = 0; b < requests.size(); ++b) {
    Result<int64_t> r = cache->reservedLength(requests[b]);
    if (!r)
      return Error{r.error()};
    reserved[b] = *r;
    committed[b] = *cache->committedLength(requests[b]);
    if (window > 0)
      first[b] = std::max<int64_t>(0, committed[b] - window + 1);
    positions = std::max(positions, reserved[b] - first[b]);
  }
  columns = kHeader + positions;
  table.assign(requests.size() * columns, -1);
  for (size_t b = 0; b < requests.size(); ++b) {
    int64_t *row = table.data() + b * columns;
    row[0] = committed[b];
    row[1] = cache->pageSize();
    row[2] = kNoError;
    row[3] = first[b];
    if (Status s = cache->rowTable(requests[b], pool, first[b],
                                   reserved[b] - first[b], row + kHeader);
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
