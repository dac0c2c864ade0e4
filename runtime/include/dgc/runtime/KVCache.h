//===- KVCache.h - Paged KV cache of the runtime ----------------*- C++ -*-===//
//
// The host side of `!dg.kv_cache`: one pool of fixed-size pages per layer
// kind, a page table per request and pool, and the committed length `L` of
// each request. Positions [0, L) are committed (prompt and committed
// canvases); positions from L on are canvas scratch that denoise steps
// overwrite. Sliding pools hand pages back once the window has moved past
// them; full pools keep every page until the request is released.
//
// Storage of one pool: `numPages` pages of `pageBytes()` bytes, back to back.
// Inside a page, the row of (layer l, K or V kv, slot s) starts at byte
//
//     ((l * 2 + kv) * pageSize + s) * rowBytes,   kv = 0 for K, 1 for V,
//
// and holds `[kvHeads][headDim]` elements. Token position t of a request lives
// in page `pageTable[t / pageSize]` at slot `t % pageSize`, so a kernel needs
// only the pool base, the page table and these strides. A page is zeroed
// when a request takes it: rows not yet written read as zeros.
//
// Page bound of sliding pools: a request holds the pages that cover
// [max(0, L - window + 1), reserved), at most
//
//     ceil((window + ahead + pageSize - 2) / pageSize)   with ahead = reserved
//     - L
//
// pages; the sampler reserves one canvas ahead (ahead = canvas), which gives
// ceil((window + canvas + pageSize - 2) / pageSize). A full pool holds
// ceil(reserved / pageSize) pages.
//
// Nothing here throws and no call crashes on a bad id, pool or layer: every
// failure is a Status or Result whose message says what was wrong. Not
// thread-safe: the executor owns the cache.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_KVCACHE_H
#define DGC_RUNTIME_KVCACHE_H

#include "dgc/runtime/Safetensors.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dgc::runtime {

/// The geometry of one pool: the parameters of `!dg.kv_cache`.
struct PoolSpec {
  std::string name;
  int64_t numLayers = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  /// 0: full attention. > 0: sliding; a query at position p sees keys
  /// > p - window, and the decoder sees committed keys >= L - (window - 1).
  int64_t window = 0;
  /// 4 for f32, 2 for bf16.
  int elementBytes = 4;

  /// Bytes of one [kvHeads][headDim] row.
  int64_t rowBytes() const { return numKvHeads * headDim * elementBytes; }
};

using RequestId = int64_t;

/// How a write treats the committed length L.
enum class WriteMode {
  /// Encoder rows (prompt or commit pass). L does not move until commit().
  Commit,
  /// Canvas rows of a denoise step: only at positions >= L.
  Scratch,
};

/// Where a cache keeps its pages: host memory unless a module's kernels must
/// reach them (a cuda module gives managed memory).
struct PoolMemory {
  /// Null when out of memory.
  std::function<void *(size_t bytes)> allocate;
  std::function<void(void *)> release;
  /// Zeroes `bytes` at `p` where the memory lives, before returning (null:
  /// memset on the host). Managed memory zeroed by the host moves to the
  /// host, and the GPU's next kernels fault it back page by page.
  std::function<void(void *p, size_t bytes)> zero;
  /// Copies rows into and out of the pages (null: memcpy), for pages the
  /// host cannot reach.
  std::function<void(void *dst, const void *src, size_t bytes)> copyIn, copyOut;
};

class KVCache {
public:
  /// A cache of `pools[i]` with `numPages[i]` pages each; every page holds
  /// `pageSize` positions. Pages live in `memory`, host memory by default.
  static Result<KVCache> create(int64_t pageSize, std::vector<PoolSpec> pools,
                                std::vector<int64_t> numPages,
                                PoolMemory memory = {});

  KVCache(KVCache &&) = default;
  KVCache &operator=(KVCache &&) = default;
  KVCache(const KVCache &) = delete;
  KVCache &operator=(const KVCache &) = delete;

  int64_t pageSize() const { return positionsPerPage; }
  const std::vector<PoolSpec> &pools() const { return specs; }
  /// The index of the pool called `name`.
  Result<int64_t> poolIndex(std::string_view name) const;

  /// Admits a request with positions [0, tokens) reserved in every pool
  /// (prompt plus at least one canvas). Fails without changing anything when
  /// some pool has too few free pages.
  Result<RequestId> admit(int64_t tokens);
  /// Grows the reservation of `id` to [0, tokens); all pools or none.
  Status reserve(RequestId id, int64_t tokens);
  /// Returns every page of `id` to its pool.
  Status release(RequestId id);

  /// Whether `id` may write `position` of `pool` in `mode`: inside the
  /// reservation, outside recycled pages and, for scratch, at or after L.
  Status checkWrite(RequestId id, int64_t pool, int64_t position,
                    WriteMode mode) const;
  /// Stores `count` rows of layer `layer`: row i of `k` and `v` (each
  /// [kvHeads][headDim] elements of the pool's type) at `positions[i]`.
  /// Nothing is written unless checkWrite passes for every position.
  Status write(RequestId id, int64_t pool, int64_t layer,
               const int32_t *positions, int64_t count, const void *k,
               const void *v, WriteMode mode);
  /// Moves L forward to `length` (after an encoder pass has written all
  /// layers) and recycles the sliding pages no later query can see.
  Status commit(RequestId id, int64_t length);

  /// Copies positions [0, length) of `layer` to `kOut` and `vOut`
  /// ([length][kvHeads][headDim]) and sets posOut[s] = s. Rows in recycled
  /// pages read as zeros with position -1.
  Status read(RequestId id, int64_t pool, int64_t layer, int64_t length,
              void *kOut, void *vOut, int32_t *posOut) const;
  /// `dg.kv_cache_read` for `batch` requests: outputs are
  /// [batch][paddedLength][kvHeads][headDim] and [batch][paddedLength]; rows
  /// at or after `lengths[b]` are zero with position -1.
  Status readBatch(const RequestId *ids, const int64_t *lengths, int64_t batch,
                   int64_t pool, int64_t layer, int64_t paddedLength,
                   void *kOut, void *vOut, int32_t *posOut) const;

  Result<int64_t> committedLength(RequestId id) const;
  Result<int64_t> reservedLength(RequestId id) const;
  /// Page of each page-sized block of positions; -1 once recycled.
  Result<std::vector<int64_t>> pageTable(RequestId id, int64_t pool) const;
  /// Pages `id` holds in `pool` (recycled ones not counted).
  Result<int64_t> pagesHeld(RequestId id, int64_t pool) const;

  /// Fills rows[i], i in [0, count), with the row of position first + i's
  /// layer-0 K in the pool's storage viewed as [rows][kvHeads][headDim]
  /// (layer l's K is `2 * l * pageSize` rows further, its V `pageSize`
  /// more), or -1 when that position is outside the reservation or in a
  /// recycled page: the table a compiled graph reads the cache through.
  Status rowTable(RequestId id, int64_t pool, int64_t first, int64_t count,
                  int64_t *rows) const;
  /// Rows of `pool`'s storage: pages * layers * 2 * pageSize.
  int64_t poolRows(int64_t pool) const;

  Result<int64_t> freePages(int64_t pool) const;
  Result<int64_t> totalPages(int64_t pool) const;
  /// Bytes of one page of `pool`; 0 for a bad pool.
  int64_t pageBytes(int64_t pool) const;
  /// K and V of one position in every layer of every pool.
  int64_t bytesPerToken() const;
  /// The storage of `pool` (see the layout above); null for a bad pool.
  uint8_t *poolData(int64_t pool);
  const uint8_t *poolData(int64_t pool) const;

private:
  struct Pool {
    std::unique_ptr<uint8_t, std::function<void(uint8_t *)>> data;
    int64_t numPages = 0;
    std::vector<int64_t> freeList;
  };
  struct Request {
    int64_t reserved = 0;
    int64_t committed = 0;
    /// tables[pool][block]: page of positions [block * pageSize, ...).
    std::vector<std::vector<int64_t>> tables;
  };

  KVCache() = default;
  /// Null for an unknown id.
  Request *find(RequestId id);
  const Request *find(RequestId id) const;
  Status checkPoolLayer(int64_t pool, int64_t layer) const;
  /// checkWrite for a request found and a pool checked.
  Status checkPosition(RequestId id, const Request &request, int64_t pool,
                       int64_t position, WriteMode mode) const;
  /// Extends the page tables of `request` to cover [0, tokens).
  Status grow(Request &request, int64_t tokens, const char *what);
  int64_t allocatePage(int64_t pool);
  void freePage(int64_t pool, int64_t page);
  int64_t rowOffset(int64_t pool, int64_t page, int64_t layer, int kv,
                    int64_t slot) const;
  void readRows(const Request &request, int64_t pool, int64_t layer,
                int64_t length, uint8_t *kOut, uint8_t *vOut,
                int32_t *posOut) const;

  int64_t positionsPerPage = 0;
  std::vector<PoolSpec> specs;
  std::vector<Pool> storage;
  std::function<void(void *, size_t)> zero;
  std::function<void(void *, const void *, size_t)> copyIn, copyOut;
  std::map<RequestId, Request> requests;
  RequestId nextId = 0;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_KVCACHE_H
