//===- KVCache.cpp - Paged KV cache of the runtime ------------------------===//

#include "dgc/runtime/KVCache.h"

#include "dgc/runtime/Files.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <set>

namespace dgc::runtime {

namespace {
Error fail(const std::string &message) { return Error{"kv cache: " + message}; }

std::string unknownRequest(RequestId id) {
  return "request " + std::to_string(id) + " is not admitted";
}

/// Number of pages that cover [0, tokens).
int64_t blocksFor(int64_t tokens, int64_t pageSize) {
  return tokens / pageSize + (tokens % pageSize != 0);
}
} // namespace

Result<KVCache> KVCache::create(int64_t pageSize, std::vector<PoolSpec> pools,
                                std::vector<int64_t> numPages,
                                PoolMemory memory) {
  if (pageSize <= 0)
    return fail("page size must be positive, got " + std::to_string(pageSize));
  if (pools.empty())
    return fail("no pools");
  if (pools.size() != numPages.size())
    return fail(std::to_string(pools.size()) + " pools but " +
                std::to_string(numPages.size()) + " page counts");

  KVCache cache;
  cache.positionsPerPage = pageSize;
  std::set<std::string> names;
  for (size_t i = 0; i < pools.size(); ++i) {
    const PoolSpec &spec = pools[i];
    std::string where = "pool '" + spec.name + "': ";
    if (spec.name.empty() || !names.insert(spec.name).second)
      return fail(where + "pool names must be non-empty and unique");
    // Bounds that keep every byte offset below 2^62 without overflow checks.
    constexpr int64_t kMaxDim = int64_t(1) << 20;
    if (spec.numLayers <= 0 || spec.numKvHeads <= 0 || spec.headDim <= 0 ||
        spec.numLayers > kMaxDim || spec.numKvHeads > kMaxDim ||
        spec.headDim > kMaxDim)
      return fail(where + "layers, kv_heads and head_dim must be in [1, 2^20]");
    if (spec.window < 0)
      return fail(where + "window must be >= 0 (0 = full attention)");
    if (spec.elementBytes != 2 && spec.elementBytes != 4)
      return fail(where + "element size must be 2 (bf16) or 4 (f32) bytes");
    if (numPages[i] <= 0)
      return fail(where + "needs at least one page");
    long double bytes = (long double)numPages[i] * pageSize * spec.numLayers *
                        2 * spec.rowBytes();
    if (bytes > (long double)(int64_t(1) << 46))
      return fail(where + "more than 64 TiB of pages");
  }

  if (!memory.allocate || !memory.release) {
    // Host pages are zeroed at once: they must fit in memory now.
    long double total = 0;
    for (size_t i = 0; i < pools.size(); ++i)
      total += (long double)numPages[i] * pageSize * pools[i].numLayers * 2 *
               pools[i].rowBytes();
    if (Status s = checkHostMemory(static_cast<uint64_t>(total),
                                   "the KV cache's pages");
        !s)
      return Error{s.error()};
    memory = {[](size_t bytes) { return std::malloc(bytes); },
              [](void *p) { std::free(p); }, nullptr, nullptr, nullptr};
  }
  cache.zero = memory.zero ? memory.zero : [](void *p, size_t bytes) {
    std::memset(p, 0, bytes);
  };
  auto copy = [](void *dst, const void *src, size_t bytes) {
    std::memcpy(dst, src, bytes);
  };
  cache.copyIn = memory.copyIn ? memory.copyIn : copy;
  cache.copyOut = memory.copyOut ? memory.copyOut : copy;
  cache.specs = std::move(pools);
  cache.storage.resize(cache.specs.size());
  for (size_t i = 0; i < cache.specs.size(); ++i) {
    Pool &pool = cache.storage[i];
    size_t bytes = numPages[i] * cache.pageBytes(i);
    auto *data = static_cast<uint8_t *>(memory.allocate(bytes));
    if (!data)
      return fail("pool '" + cache.specs[i].name + "': out of memory for " +
                  std::to_string(bytes) + " bytes of pages");
    pool.data = {data, [release = memory.release](uint8_t *p) { release(p); }};
    cache.zero(data, bytes);
    pool.numPages = numPages[i];
    // Reversed so that pages are handed out from 0 up.
    for (int64_t page = numPages[i] - 1; page >= 0; --page)
      pool.freeList.push_back(page);
  }
  return Result<KVCache>(std::move(cache));
}

Result<int64_t> KVCache::poolIndex(std::string_view name) const {
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].name == name)
      return int64_t(i);
  return fail("no pool named '" + std::string(name) + "'");
}

KVCache::Request *KVCache::find(RequestId id) {
  auto it = requests.find(id);
  return it == requests.end() ? nullptr : &it->second;
}

const KVCache::Request *KVCache::find(RequestId id) const {
  auto it = requests.find(id);
  return it == requests.end() ? nullptr : &it->second;
}

Status KVCache::checkPoolLayer(int64_t pool, int64_t layer) const {
  if (pool < 0 || pool >= int64_t(specs.size()))
    return fail("pool " + std::to_string(pool) + " out of range [0, " +
                std::to_string(specs.size()) + ")");
  if (layer < 0 || layer >= specs[pool].numLayers)
    return fail("layer " + std::to_string(layer) + " out of range [0, " +
                std::to_string(specs[pool].numLayers) + ") of pool '" +
                specs[pool].name + "'");
  return {};
}

Status KVCache::grow(Request &request, int64_t tokens, const char *what) {
  if (tokens <= 0 || tokens > std::numeric_limits<int32_t>::max())
    return fail(std::string(what) + " " + std::to_string(tokens) +
                " tokens: must be in [1, 2^31)");
  int64_t blocks = blocksFor(tokens, positionsPerPage);
  // Check every pool before taking any page: all or nothing.
  for (size_t i = 0; i < specs.size(); ++i) {
    int64_t needed = blocks - int64_t(request.tables[i].size());
    int64_t free = storage[i].freeList.size();
    if (needed > free)
      return fail(std::string(what) + " " + std::to_string(tokens) +
                  " tokens: pool '" + specs[i].name + "' needs " +
                  std::to_string(needed) + " more pages, " +
                  std::to_string(free) + " free");
  }
  for (size_t i = 0; i < specs.size(); ++i)
    while (int64_t(request.tables[i].size()) < blocks)
      request.tables[i].push_back(allocatePage(i));
  request.reserved = std::max(request.reserved, tokens);
  return {};
}

int64_t KVCache::allocatePage(int64_t pool) {
  Pool &p = storage[pool];
  int64_t page = p.freeList.back();
  p.freeList.pop_back();
  // Zero rows keep masked-out garbage (NaN * 0) out of attention kernels.
  zero(p.data.get() + page * pageBytes(pool), pageBytes(pool));
  return page;
}

void KVCache::freePage(int64_t pool, int64_t page) {
  storage[pool].freeList.push_back(page);
}

Result<RequestId> KVCache::admit(int64_t tokens) {
  Request request;
  request.tables.resize(specs.size());
  if (Status status = grow(request, tokens, "admitting"); !status)
    return Error{status.error()};
  RequestId id = nextId++;
  requests.emplace(id, std::move(request));
  return id;
}

Status KVCache::reserve(RequestId id, int64_t tokens) {
  Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  if (tokens <= 0)
    return fail("reserving " + std::to_string(tokens) +
                " tokens: must be positive");
  if (tokens <= request->reserved)
    return {};
  return grow(*request, tokens, "reserving");
}

Status KVCache::release(RequestId id) {
  Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  for (size_t i = 0; i < specs.size(); ++i)
    for (int64_t page : request->tables[i])
      if (page >= 0)
        freePage(i, page);
  requests.erase(id);
  return {};
}

int64_t KVCache::rowOffset(int64_t pool, int64_t page, int64_t layer, int kv,
                           int64_t slot) const {
  return page * pageBytes(pool) +
         ((layer * 2 + kv) * positionsPerPage + slot) * specs[pool].rowBytes();
}

Status KVCache::checkWrite(RequestId id, int64_t pool, int64_t position,
                           WriteMode mode) const {
  const Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  if (Status status = checkPoolLayer(pool, 0); !status)
    return status;
  return checkPosition(id, *request, pool, position, mode);
}

Status KVCache::checkPosition(RequestId id, const Request &request,
                              int64_t pool, int64_t position,
                              WriteMode mode) const {
  auto where = [&] {
    return "request " + std::to_string(id) + ", pool '" + specs[pool].name +
           "': position " + std::to_string(position);
  };
  if (position < 0 || position >= request.reserved)
    return fail(where() + " outside the reservation [0, " +
                std::to_string(request.reserved) + ")");
  if (request.tables[pool][position / positionsPerPage] < 0)
    return fail(where() + " is in a recycled page (behind the sliding window)");
  if (mode == WriteMode::Scratch && position < request.committed)
    return fail(where() + ": scratch write below the committed length " +
                std::to_string(request.committed));
  return {};
}

Status KVCache::write(RequestId id, int64_t pool, int64_t layer,
                      const int32_t *positions, int64_t count, const void *k,
                      const void *v, WriteMode mode) {
  Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  if (Status status = checkPoolLayer(pool, layer); !status)
    return status;
  if (count < 0 || (count > 0 && (!positions || !k || !v)))
    return fail("write needs a row count >= 0 and non-null rows");

  // Validate every position first so that a bad one writes nothing.
  for (int64_t i = 0; i < count; ++i)
    if (Status status = checkPosition(id, *request, pool, positions[i], mode);
        !status)
      return status;

  const PoolSpec &spec = specs[pool];
  const std::vector<int64_t> &table = request->tables[pool];
  Pool &p = storage[pool];
  int64_t rowBytes = spec.rowBytes();
  // Consecutive positions in one page are consecutive rows: one copy each
  // for K and V (pages on a GPU are written by a copy call).
  for (int64_t i = 0; i < count;) {
    int64_t page = table[positions[i] / positionsPerPage];
    int64_t slot = positions[i] % positionsPerPage;
    int64_t run = 1;
    while (i + run < count && positions[i + run] == positions[i] + run &&
           slot + run < positionsPerPage)
      ++run;
    copyIn(p.data.get() + rowOffset(pool, page, layer, 0, slot),
           static_cast<const uint8_t *>(k) + i * rowBytes, run * rowBytes);
    copyIn(p.data.get() + rowOffset(pool, page, layer, 1, slot),
           static_cast<const uint8_t *>(v) + i * rowBytes, run * rowBytes);
    i += run;
  }
  return {};
}

Status KVCache::commit(RequestId id, int64_t length) {
  Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  if (length < request->committed || length > request->reserved)
    return fail("request " + std::to_string(id) + ": committed length " +
                std::to_string(length) + " outside [" +
                std::to_string(request->committed) + ", " +
                std::to_string(request->reserved) + "]");
  request->committed = length;

  // No later query sees keys below L - window + 1: encoder queries q >= L see
  // k > q - window, and the decoder sees committed keys >= L - (window - 1).
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].window == 0)
      continue;
    int64_t firstVisible = length - specs[i].window + 1;
    std::vector<int64_t> &table = request->tables[i];
    for (int64_t block = 0; block < int64_t(table.size()) &&
                            (block + 1) * positionsPerPage <= firstVisible;
         ++block) {
      if (table[block] >= 0)
        freePage(i, table[block]);
      table[block] = -1;
    }
  }
  return {};
}

void KVCache::readRows(const Request &request, int64_t pool, int64_t layer,
                       int64_t length, uint8_t *kOut, uint8_t *vOut,
                       int32_t *posOut) const {
  const Pool &p = storage[pool];
  int64_t rowBytes = specs[pool].rowBytes();
  // A page's rows are consecutive: one copy per page for K and for V.
  for (int64_t pos = 0; pos < length;) {
    int64_t page = request.tables[pool][pos / positionsPerPage];
    int64_t slot = pos % positionsPerPage;
    int64_t run = std::min(positionsPerPage - slot, length - pos);
    if (page >= 0) {
      copyOut(kOut + pos * rowBytes,
              p.data.get() + rowOffset(pool, page, layer, 0, slot),
              run * rowBytes);
      copyOut(vOut + pos * rowBytes,
              p.data.get() + rowOffset(pool, page, layer, 1, slot),
              run * rowBytes);
    } else {
      std::memset(kOut + pos * rowBytes, 0, run * rowBytes);
      std::memset(vOut + pos * rowBytes, 0, run * rowBytes);
    }
    for (int64_t i = 0; i < run; ++i)
      posOut[pos + i] = page >= 0 ? int32_t(pos + i) : -1;
    pos += run;
  }
}

Status KVCache::read(RequestId id, int64_t pool, int64_t layer, int64_t length,
                     void *kOut, void *vOut, int32_t *posOut) const {
  return readBatch(&id, &length, 1, pool, layer, length, kOut, vOut, posOut);
}

Status KVCache::readBatch(const RequestId *ids, const int64_t *lengths,
                          int64_t batch, int64_t pool, int64_t layer,
                          int64_t paddedLength, void *kOut, void *vOut,
                          int32_t *posOut) const {
  if (Status status = checkPoolLayer(pool, layer); !status)
    return status;
  if (batch < 0 || paddedLength < 0 || (batch > 0 && (!ids || !lengths)))
    return fail("read needs a batch >= 0, a padded length >= 0 and non-null "
                "ids and lengths");
  if (batch > 0 && paddedLength > 0 && (!kOut || !vOut || !posOut))
    return fail("read needs non-null outputs");
  for (int64_t b = 0; b < batch; ++b) {
    const Request *request = find(ids[b]);
    if (!request)
      return fail(unknownRequest(ids[b]));
    int64_t limit = std::min(request->reserved, paddedLength);
    if (lengths[b] < 0 || lengths[b] > limit)
      return fail("request " + std::to_string(ids[b]) + ": read length " +
                  std::to_string(lengths[b]) + " outside [0, " +
                  std::to_string(limit) +
                  "] (the reservation and the padded length)");
  }

  int64_t rowBytes = specs[pool].rowBytes();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t first = b * paddedLength;
    uint8_t *k = static_cast<uint8_t *>(kOut) + first * rowBytes;
    uint8_t *v = static_cast<uint8_t *>(vOut) + first * rowBytes;
    int32_t *pos = posOut + first;
    readRows(*find(ids[b]), pool, layer, lengths[b], k, v, pos);
    int64_t padding = paddedLength - lengths[b];
    std::memset(k + lengths[b] * rowBytes, 0, padding * rowBytes);
    std::memset(v + lengths[b] * rowBytes, 0, padding * rowBytes);
    std::fill_n(pos + lengths[b], padding, -1);
  }
  return {};
}

Result<int64_t> KVCache::committedLength(RequestId id) const {
  const Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  return request->committed;
}

Result<int64_t> KVCache::reservedLength(RequestId id) const {
  const Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  return request->reserved;
}

Result<std::vector<int64_t>> KVCache::pageTable(RequestId id,
                                                int64_t pool) const {
  const Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  if (Status status = checkPoolLayer(pool, 0); !status)
    return Error{status.error()};
  return request->tables[pool];
}

Result<int64_t> KVCache::pagesHeld(RequestId id, int64_t pool) const {
  Result<std::vector<int64_t>> table = pageTable(id, pool);
  if (!table)
    return Error{table.error()};
  return int64_t(std::count_if(table->begin(), table->end(),
                               [](int64_t page) { return page >= 0; }));
}

Result<int64_t> KVCache::freePages(int64_t pool) const {
  if (Status status = checkPoolLayer(pool, 0); !status)
    return Error{status.error()};
  return int64_t(storage[pool].freeList.size());
}

Result<int64_t> KVCache::totalPages(int64_t pool) const {
  if (Status status = checkPoolLayer(pool, 0); !status)
    return Error{status.error()};
  return storage[pool].numPages;
}

int64_t KVCache::pageBytes(int64_t pool) const {
  if (pool < 0 || pool >= int64_t(specs.size()))
    return 0;
  return specs[pool].numLayers * 2 * positionsPerPage * specs[pool].rowBytes();
}

int64_t KVCache::bytesPerToken() const {
  int64_t bytes = 0;
  for (const PoolSpec &spec : specs)
    bytes += spec.numLayers * 2 * spec.rowBytes();
  return bytes;
}

uint8_t *KVCache::poolData(int64_t pool) {
  if (pool < 0 || pool >= int64_t(specs.size()))
    return nullptr;
  return storage[pool].data.get();
}

const uint8_t *KVCache::poolData(int64_t pool) const {
  if (pool < 0 || pool >= int64_t(specs.size()))
    return nullptr;
  return storage[pool].data.get();
}

Status KVCache::rowTable(RequestId id, int64_t pool, int64_t first,
                         int64_t count, int64_t *rows) const {
  const Request *request = find(id);
  if (!request)
    return fail(unknownRequest(id));
  if (Status status = checkPoolLayer(pool, 0); !status)
    return status;
  if (first < 0 || count < 0)
    return fail("a row table needs first >= 0 and count >= 0");
  const std::vector<int64_t> &table = request->tables[pool];
  int64_t rowsPerPage = specs[pool].numLayers * 2 * positionsPerPage;
  for (int64_t i = 0; i < count; ++i) {
    int64_t p = first + i;
    int64_t page = p < request->reserved ? table[p / positionsPerPage] : -1;
    rows[i] = page < 0 ? -1 : page * rowsPerPage + p % positionsPerPage;
  }
  return {};
}

int64_t KVCache::poolRows(int64_t pool) const {
  if (pool < 0 || pool >= int64_t(specs.size()))
    return 0;
  return storage[pool].numPages * specs[pool].numLayers * 2 * positionsPerPage;
}

} // namespace dgc::runtime
