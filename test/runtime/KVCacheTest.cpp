//===- KVCacheTest.cpp - Tests of the paged KV cache ----------------------===//

#include "dgc/runtime/KVCache.h"

#include <gtest/gtest.h>

#include <cstring>

#include <algorithm>

using namespace dgc::runtime;

namespace {

constexpr int64_t kPage = 4;
constexpr int64_t kSliding = 0;
constexpr int64_t kFull = 1;
constexpr int64_t kWindow = 8;

// Small pools: an f32 sliding pool and a bf16 full pool, like Gemma's two.
PoolSpec slidingSpec() { return {"sliding", 2, 2, 3, kWindow, 4}; }
PoolSpec fullSpec() { return {"full", 1, 1, 4, 0, 2}; }

KVCache makeCache(int64_t slidingPages, int64_t fullPages) {
  Result<KVCache> cache = KVCache::create(kPage, {slidingSpec(), fullSpec()},
                                          {slidingPages, fullPages});
  EXPECT_TRUE(cache) << cache.error();
  return std::move(*cache);
}

std::vector<int32_t> range(int32_t begin, int32_t end) {
  std::vector<int32_t> positions;
  for (int32_t pos = begin; pos < end; ++pos)
    positions.push_back(pos);
  return positions;
}

// Never zero, so that written rows differ from the zeros of missing ones.
uint8_t byteAt(int tag, int64_t pos, int64_t j) {
  return uint8_t(1 + (tag * 37 + pos * 11 + j) % 251);
}

int64_t rowBytesOf(const KVCache &cache, int64_t pool) {
  return cache.pageBytes(pool) ? cache.pools()[pool].rowBytes() : 8;
}

// Writes rows tagged `tag` (K) and `tag + 100` (V) at `positions`.
Status put(KVCache &cache, RequestId id, int64_t pool, int64_t layer,
           const std::vector<int32_t> &positions, int tag,
           WriteMode mode = WriteMode::Commit) {
  int64_t rowBytes = rowBytesOf(cache, pool);
  std::vector<uint8_t> k(positions.size() * rowBytes), v(k.size());
  for (size_t i = 0; i < positions.size(); ++i)
    for (int64_t j = 0; j < rowBytes; ++j) {
      k[i * rowBytes + j] = byteAt(tag, positions[i], j);
      v[i * rowBytes + j] = byteAt(tag + 100, positions[i], j);
    }
  return cache.write(id, pool, layer, positions.data(), positions.size(),
                     k.data(), v.data(), mode);
}

struct Rows {
  std::vector<uint8_t> k, v;
  std::vector<int32_t> pos;
  int64_t rowBytes = 0;

  bool holds(int64_t row, int tag, int64_t position) const {
    for (int64_t j = 0; j < rowBytes; ++j)
      if (k[row * rowBytes + j] != byteAt(tag, position, j) ||
          v[row * rowBytes + j] != byteAt(tag + 100, position, j))
        return false;
    return pos[row] == position;
  }
  /// A row of a held page that was never written: zeros at its position.
  bool isBlank(int64_t row, int64_t position) const {
    for (int64_t j = 0; j < rowBytes; ++j)
      if (k[row * rowBytes + j] != 0 || v[row * rowBytes + j] != 0)
        return false;
    return pos[row] == position;
  }
  bool isMissing(int64_t row) const {
    for (int64_t j = 0; j < rowBytes; ++j)
      if (k[row * rowBytes + j] != 0 || v[row * rowBytes + j] != 0)
        return false;
    return pos[row] == -1;
  }
};

Rows get(const KVCache &cache, RequestId id, int64_t pool, int64_t layer,
         int64_t length) {
  Rows rows;
  rows.rowBytes = rowBytesOf(cache, pool);
  rows.k.assign(length * rows.rowBytes, 0xAB);
  rows.v.assign(length * rows.rowBytes, 0xAB);
  rows.pos.assign(length, 12345);
  Status status = cache.read(id, pool, layer, length, rows.k.data(),
                             rows.v.data(), rows.pos.data());
  EXPECT_TRUE(status) << status.error();
  return rows;
}

int64_t freeIn(const KVCache &cache, int64_t pool) {
  Result<int64_t> free = cache.freePages(pool);
  EXPECT_TRUE(free) << free.error();
  return free ? *free : -1;
}

int64_t heldBy(const KVCache &cache, RequestId id, int64_t pool) {
  Result<int64_t> held = cache.pagesHeld(id, pool);
  EXPECT_TRUE(held) << held.error();
  return held ? *held : -1;
}

void expectError(const Status &status, const std::string &needle) {
  ASSERT_FALSE(status) << "expected an error containing '" << needle << "'";
  EXPECT_NE(status.error().find(needle), std::string::npos) << status.error();
}

TEST(KVCacheTest, CreateRejectsBadGeometry) {
  EXPECT_FALSE(KVCache::create(0, {fullSpec()}, {1}));
  EXPECT_FALSE(KVCache::create(kPage, {fullSpec()}, {1, 2}));
  EXPECT_FALSE(KVCache::create(kPage, {fullSpec(), fullSpec()}, {1, 1}));
  PoolSpec odd = fullSpec();
  odd.elementBytes = 3;
  Result<KVCache> cache = KVCache::create(kPage, {odd}, {1});
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().find("pool 'full'"), std::string::npos);
}

TEST(KVCacheTest, GemmaGeometryCostsAbout220KiBPerToken) {
  Result<KVCache> cache = KVCache::create(
      16, {{"sliding", 25, 8, 256, 1024, 2}, {"full", 5, 2, 512, 0, 2}},
      {1, 1});
  ASSERT_TRUE(cache) << cache.error();
  EXPECT_EQ(cache->bytesPerToken(), 220 * 1024);
  EXPECT_EQ(cache->pageBytes(0), 16 * 25 * 2 * 8 * 256 * 2);
  EXPECT_EQ(*cache->poolIndex("full"), 1);
  EXPECT_FALSE(cache->poolIndex("global"));
}

TEST(KVCacheTest, RoundTripAcrossPageBoundaries) {
  KVCache cache = makeCache(8, 8);
  Result<RequestId> id = cache.admit(11);
  ASSERT_TRUE(id) << id.error();
  // Out of order, spanning three pages.
  std::vector<int32_t> positions = range(0, 11);
  std::reverse(positions.begin(), positions.end());
  ASSERT_TRUE(put(cache, *id, kSliding, 1, positions, 1));
  ASSERT_TRUE(put(cache, *id, kFull, 0, positions, 2));

  Rows sliding = get(cache, *id, kSliding, 1, 11);
  Rows full = get(cache, *id, kFull, 0, 11);
  for (int64_t s = 0; s < 11; ++s) {
    EXPECT_TRUE(sliding.holds(s, 1, s)) << s;
    EXPECT_TRUE(full.holds(s, 2, s)) << s;
  }
  // Layer 0 of the sliding pool was never written: its pages are zero.
  Rows other = get(cache, *id, kSliding, 0, 11);
  for (int64_t s = 0; s < 11; ++s)
    EXPECT_TRUE(other.isBlank(s, s)) << s;

  // The documented layout: K of (layer 1, slot 2) of the first page.
  Result<std::vector<int64_t>> table = cache.pageTable(*id, kSliding);
  ASSERT_TRUE(table);
  int64_t rowBytes = slidingSpec().rowBytes();
  const uint8_t *row = cache.poolData(kSliding) +
                       (*table)[0] * cache.pageBytes(kSliding) +
                       ((1 * 2 + 0) * kPage + 2) * rowBytes;
  EXPECT_EQ(row[0], byteAt(1, 2, 0));
}

TEST(KVCacheTest, BatchedReadPadsToCommonLength) {
  KVCache cache = makeCache(8, 8);
  RequestId a = *cache.admit(5), b = *cache.admit(7);
  ASSERT_TRUE(put(cache, a, kFull, 0, range(0, 3), 1));
  ASSERT_TRUE(put(cache, b, kFull, 0, range(0, 6), 2));

  const int64_t padded = 8, rowBytes = fullSpec().rowBytes();
  RequestId ids[] = {a, b};
  int64_t lengths[] = {3, 6};
  Rows rows;
  rows.rowBytes = rowBytes;
  rows.k.assign(2 * padded * rowBytes, 0xAB);
  rows.v.assign(2 * padded * rowBytes, 0xAB);
  rows.pos.assign(2 * padded, 12345);
  Status status =
      cache.readBatch(ids, lengths, 2, kFull, 0, padded, rows.k.data(),
                      rows.v.data(), rows.pos.data());
  ASSERT_TRUE(status) << status.error();
  for (int64_t s = 0; s < padded; ++s) {
    if (s < 3)
      EXPECT_TRUE(rows.holds(s, 1, s)) << s;
    else
      EXPECT_TRUE(rows.isMissing(s)) << s;
    if (s < 6)
      EXPECT_TRUE(rows.holds(padded + s, 2, s)) << s;
    else
      EXPECT_TRUE(rows.isMissing(padded + s)) << s;
  }

  int64_t tooLong[] = {3, 9};
  expectError(cache.readBatch(ids, tooLong, 2, kFull, 0, padded, rows.k.data(),
                              rows.v.data(), rows.pos.data()),
              "read length 9");
}

TEST(KVCacheTest, ScratchWritesStayAheadOfCommittedLength) {
  KVCache cache = makeCache(8, 8);
  RequestId id = *cache.admit(9);
  ASSERT_TRUE(put(cache, id, kSliding, 0, range(0, 5), 1));
  ASSERT_TRUE(cache.commit(id, 5));

  ASSERT_TRUE(put(cache, id, kSliding, 0, range(5, 9), 2, WriteMode::Scratch));
  EXPECT_EQ(*cache.committedLength(id), 5);
  ASSERT_TRUE(put(cache, id, kSliding, 0, range(5, 9), 3, WriteMode::Scratch));
  EXPECT_EQ(*cache.committedLength(id), 5);

  Rows rows = get(cache, id, kSliding, 0, 9);
  for (int64_t s = 0; s < 9; ++s)
    EXPECT_TRUE(rows.holds(s, s < 5 ? 1 : 3, s)) << s;

  expectError(put(cache, id, kSliding, 0, {4, 5}, 4, WriteMode::Scratch),
              "below the committed length 5");
  // The failed write changed nothing, not even its valid row.
  EXPECT_TRUE(get(cache, id, kSliding, 0, 9).holds(5, 3, 5));
}

TEST(KVCacheTest, CommitAdvancesCommittedLength) {
  KVCache cache = makeCache(8, 8);
  RequestId id = *cache.admit(8);
  EXPECT_EQ(*cache.committedLength(id), 0);
  ASSERT_TRUE(put(cache, id, kFull, 0, range(0, 6), 1));
  EXPECT_EQ(*cache.committedLength(id), 0);
  ASSERT_TRUE(cache.commit(id, 6));
  EXPECT_EQ(*cache.committedLength(id), 6);
  expectError(cache.commit(id, 5), "outside [6, 8]");
  expectError(cache.commit(id, 9), "outside [6, 8]");
  ASSERT_TRUE(cache.commit(id, 8));
  expectError(put(cache, id, kFull, 0, {7}, 2, WriteMode::Scratch),
              "below the committed length");
}

TEST(KVCacheTest, SlidingPoolsRecyclePagesBehindTheWindow) {
  KVCache cache = makeCache(8, 8);
  RequestId id = *cache.admit(12);
  for (int64_t layer = 0; layer < 2; ++layer)
    ASSERT_TRUE(put(cache, id, kSliding, layer, range(0, 12), 1));
  ASSERT_TRUE(put(cache, id, kFull, 0, range(0, 12), 2));
  EXPECT_EQ(freeIn(cache, kSliding), 5);

  // L = 12: keys below 12 - 8 + 1 = 5 are invisible, so page [0, 4) goes.
  ASSERT_TRUE(cache.commit(id, 12));
  EXPECT_EQ(freeIn(cache, kSliding), 6);
  EXPECT_EQ((*cache.pageTable(id, kSliding))[0], -1);
  EXPECT_EQ(heldBy(cache, id, kSliding), 2);

  Rows rows = get(cache, id, kSliding, 1, 12);
  for (int64_t s = 0; s < 12; ++s) {
    if (s < 4)
      EXPECT_TRUE(rows.isMissing(s)) << s;
    else
      EXPECT_TRUE(rows.holds(s, 1, s)) << s;
  }
  expectError(put(cache, id, kSliding, 0, {2}, 3), "recycled page");

  // The full pool keeps every row.
  EXPECT_EQ(heldBy(cache, id, kFull), 3);
  Rows full = get(cache, id, kFull, 0, 12);
  for (int64_t s = 0; s < 12; ++s)
    EXPECT_TRUE(full.holds(s, 2, s)) << s;
}

// The sampler's loop: reserve one canvas, denoise into scratch, commit. The
// sliding pool gets exactly the page bound of KVCache.h and never runs out;
// the full pool grows with the request.
TEST(KVCacheTest, LongRequestStaysWithinTheSlidingPageBound) {
  const int64_t canvas = 3, prompt = 5, canvases = 40;
  const int64_t bound = (kWindow + canvas + kPage - 2 + kPage - 1) / kPage;
  KVCache cache = makeCache(bound, 64);
  RequestId id = *cache.admit(prompt + canvas);
  ASSERT_TRUE(put(cache, id, kSliding, 0, range(0, prompt), 0));
  ASSERT_TRUE(put(cache, id, kFull, 0, range(0, prompt), 0));
  ASSERT_TRUE(cache.commit(id, prompt));

  int64_t length = prompt, mostHeld = 0;
  for (int tag = 1; tag <= canvases; ++tag) {
    ASSERT_TRUE(cache.reserve(id, length + canvas)) << "canvas " << tag;
    mostHeld = std::max(mostHeld, heldBy(cache, id, kSliding));
    std::vector<int32_t> rows = range(length, length + canvas);
    ASSERT_TRUE(put(cache, id, kSliding, 0, rows, 99, WriteMode::Scratch));
    ASSERT_TRUE(put(cache, id, kSliding, 0, rows, tag));
    ASSERT_TRUE(put(cache, id, kFull, 0, rows, tag));
    ASSERT_TRUE(cache.commit(id, length + canvas));
    length += canvas;

    // Everything the decoder may still see reads back.
    Rows window = get(cache, id, kSliding, 0, length);
    for (int64_t s = length - kWindow + 1; s < length; ++s) {
      int owner = s < prompt ? 0 : int((s - prompt) / canvas) + 1;
      EXPECT_TRUE(window.holds(s, owner, s))
          << "canvas " << tag << " row " << s;
    }
  }
  // Every alignment of the window occurs, so the bound is reached.
  EXPECT_EQ(mostHeld, bound);
  EXPECT_EQ(heldBy(cache, id, kFull), (length + kPage - 1) / kPage);
  Result<std::vector<int64_t>> fullTable = cache.pageTable(id, kFull);
  ASSERT_TRUE(fullTable);
  for (int64_t page : *fullTable)
    EXPECT_GE(page, 0);
}

TEST(KVCacheTest, FailedAdmissionLeavesExistingRequestsIntact) {
  // Plenty of sliding pages, few full ones: the second pool is the one that
  // refuses, after the first one could have given.
  KVCache cache = makeCache(16, 3);
  RequestId id = *cache.admit(6);
  ASSERT_TRUE(put(cache, id, kSliding, 0, range(0, 6), 1));
  ASSERT_TRUE(put(cache, id, kFull, 0, range(0, 6), 2));

  Result<RequestId> refused = cache.admit(8);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("pool 'full' needs 2 more pages, 1 free"),
            std::string::npos)
      << refused.error();
  expectError(cache.reserve(id, 13), "pool 'full' needs 2 more pages, 1 free");

  EXPECT_EQ(freeIn(cache, kSliding), 14);
  EXPECT_EQ(freeIn(cache, kFull), 1);
  EXPECT_EQ(*cache.reservedLength(id), 6);
  Rows sliding = get(cache, id, kSliding, 0, 6);
  Rows full = get(cache, id, kFull, 0, 6);
  for (int64_t s = 0; s < 6; ++s) {
    EXPECT_TRUE(sliding.holds(s, 1, s)) << s;
    EXPECT_TRUE(full.holds(s, 2, s)) << s;
  }
  // The cache still admits what fits.
  EXPECT_TRUE(cache.admit(4));
}

TEST(KVCacheTest, ReserveGrowsARequest) {
  KVCache cache = makeCache(8, 8);
  RequestId id = *cache.admit(3);
  expectError(put(cache, id, kFull, 0, {5}, 1), "outside the reservation");
  ASSERT_TRUE(cache.reserve(id, 6));
  EXPECT_EQ(*cache.reservedLength(id), 6);
  EXPECT_EQ(heldBy(cache, id, kFull), 2);
  ASSERT_TRUE(put(cache, id, kFull, 0, {5}, 1));
  // Asking for less than is reserved keeps the reservation.
  ASSERT_TRUE(cache.reserve(id, 2));
  EXPECT_EQ(*cache.reservedLength(id), 6);
  EXPECT_TRUE(get(cache, id, kFull, 0, 6).holds(5, 1, 5));
}

TEST(KVCacheTest, ReleaseReturnsPages) {
  KVCache cache = makeCache(8, 8);
  RequestId a = *cache.admit(12), b = *cache.admit(5);
  ASSERT_TRUE(cache.commit(a, 12)); // Recycles one sliding page of `a`.
  EXPECT_EQ(freeIn(cache, kSliding), 4);
  EXPECT_EQ(freeIn(cache, kFull), 3);

  ASSERT_TRUE(cache.release(a));
  EXPECT_EQ(freeIn(cache, kSliding), 6);
  EXPECT_EQ(freeIn(cache, kFull), 6);
  expectError(cache.release(a), "not admitted");
  ASSERT_TRUE(cache.release(b));
  EXPECT_EQ(freeIn(cache, kSliding), 8);
  EXPECT_EQ(freeIn(cache, kFull), 8);

  // Reused pages come back clean.
  RequestId c = *cache.admit(32);
  Rows rows = get(cache, c, kSliding, 0, 32);
  for (int64_t s = 0; s < 32; ++s)
    EXPECT_TRUE(rows.isBlank(s, s)) << s;
}

// The table compiled graphs address the pool through: the documented row of
// each position's layer-0 K, -1 past the reservation and in recycled pages.
TEST(KVCacheTest, RowTableNamesEachPositionsRow) {
  KVCache cache = makeCache(8, 8);
  RequestId other = *cache.admit(4); // Takes page 0 of each pool.
  RequestId id = *cache.admit(13);
  ASSERT_TRUE(put(cache, id, kSliding, 1, range(0, 13), 3));
  ASSERT_TRUE(cache.commit(id, 12)); // Recycles the first sliding page.
  const PoolSpec &spec = slidingSpec();
  EXPECT_EQ(cache.poolRows(kSliding), 8 * spec.numLayers * 2 * kPage);

  std::vector<int64_t> rows(20, 77);
  ASSERT_TRUE(cache.rowTable(id, kSliding, 0, 20, rows.data()));
  std::vector<int64_t> pages = *cache.pageTable(id, kSliding);
  const uint8_t *pool = cache.poolData(kSliding);
  for (int64_t p = 0; p < 20; ++p) {
    int64_t page = p < 13 ? pages[p / kPage] : -1;
    if (page < 0) {
      EXPECT_EQ(rows[p], -1) << p;
      continue;
    }
    ASSERT_EQ(rows[p], page * spec.numLayers * 2 * kPage + p % kPage) << p;
    // Layer 1's K is 2 * kPage rows on, its V kPage more.
    const uint8_t *k = pool + (rows[p] + 2 * kPage) * spec.rowBytes();
    const uint8_t *v = k + kPage * spec.rowBytes();
    EXPECT_EQ(k[0], byteAt(3, p, 0)) << p;
    EXPECT_EQ(v[0], byteAt(103, p, 0)) << p;
  }
  EXPECT_EQ(rows[0], -1); // recycled

  // From a first position on: entry i is position 5 + i's.
  std::vector<int64_t> tail(3, 77);
  ASSERT_TRUE(cache.rowTable(id, kSliding, 5, 3, tail.data()));
  EXPECT_EQ(tail, std::vector<int64_t>(rows.begin() + 5, rows.begin() + 8));

  expectError(cache.rowTable(42, kSliding, 0, 1, rows.data()), "not admitted");
  expectError(cache.rowTable(other, 7, 0, 1, rows.data()), "pool 7");
  expectError(cache.rowTable(other, kSliding, -1, 1, rows.data()),
              "first >= 0");
  EXPECT_EQ(cache.poolRows(7), 0);
}

TEST(KVCacheTest, CheckWriteNamesTheBrokenRule) {
  KVCache cache = makeCache(8, 8);
  RequestId id = *cache.admit(16);
  ASSERT_TRUE(cache.commit(id, 12));
  EXPECT_TRUE(cache.checkWrite(id, kFull, 12, WriteMode::Scratch));
  EXPECT_TRUE(cache.checkWrite(id, kFull, 3, WriteMode::Commit));
  expectError(cache.checkWrite(id, kFull, 16, WriteMode::Commit),
              "position 16 outside the reservation [0, 16)");
  expectError(cache.checkWrite(id, kFull, -1, WriteMode::Commit),
              "position -1 outside the reservation");
  expectError(cache.checkWrite(id, kSliding, 1, WriteMode::Commit),
              "recycled page");
  expectError(cache.checkWrite(id, kFull, 11, WriteMode::Scratch),
              "scratch write below the committed length 12");
}

// A module on the GPU keeps its pages in memory its kernels reach: the cache
// takes that memory from its caller and gives it back.
TEST(KVCacheTest, PagesLiveInTheGivenMemory) {
  int allocated = 0, released = 0;
  std::vector<std::vector<uint8_t>> blocks;
  PoolMemory memory{[&](size_t bytes) -> void * {
                      ++allocated;
                      blocks.emplace_back(bytes, 0xCD);
                      return blocks.back().data();
                    },
                    [&](void *) { ++released; }, nullptr, nullptr, nullptr};
  blocks.reserve(2);
  {
    Result<KVCache> cache = KVCache::create(kPage, {slidingSpec(), fullSpec()},
                                            {2, 3}, std::move(memory));
    ASSERT_TRUE(cache) << cache.error();
    EXPECT_EQ(allocated, 2);
    EXPECT_EQ(cache->poolData(kFull), blocks[1].data());
    // Handed out zeroed.
    EXPECT_EQ(blocks[1][0], 0);
    EXPECT_EQ(blocks[1].size(), size_t(3 * cache->pageBytes(kFull)));
  }
  EXPECT_EQ(released, 2);

  PoolMemory none{[](size_t) -> void * { return nullptr; }, [](void *) {},
                  nullptr, nullptr, nullptr};
  Result<KVCache> failed =
      KVCache::create(kPage, {slidingSpec()}, {2}, std::move(none));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("pool 'sliding': out of memory"),
            std::string::npos)
      << failed.error();
}

TEST(KVCacheTest, PagesAreZeroedByTheMemorysOwnZero) {
  // A cuda cache zeroes its managed pages on the GPU, not with a host
  // memset that would pull them to the host.
  std::vector<std::vector<uint8_t>> blocks;
  blocks.reserve(2);
  std::vector<size_t> zeroed; // the sizes asked for
  PoolMemory memory{[&](size_t bytes) -> void * {
                      blocks.emplace_back(bytes, 0xCD);
                      return blocks.back().data();
                    },
                    [](void *) {},
                    [&](void *p, size_t bytes) {
                      zeroed.push_back(bytes);
                      std::memset(p, 0, bytes);
                    },
                    nullptr, nullptr};
  Result<KVCache> cache = KVCache::create(kPage, {slidingSpec(), fullSpec()},
                                          {2, 3}, std::move(memory));
  ASSERT_TRUE(cache) << cache.error();
  // Each pool once, whole.
  ASSERT_EQ(zeroed.size(), 2u);
  EXPECT_EQ(zeroed[1], size_t(3 * cache->pageBytes(kFull)));
  // A page handed out again after its request left is zeroed again, by
  // the same function, one page at a time.
  RequestId first = *cache->admit(kPage);
  ASSERT_EQ(zeroed.size(), 4u);
  EXPECT_EQ(zeroed[3], size_t(cache->pageBytes(kFull)));
  std::memset(cache->poolData(kFull), 0xEE, cache->pageBytes(kFull));
  ASSERT_TRUE(cache->release(first));
  ASSERT_TRUE(cache->admit(kPage));
  ASSERT_EQ(zeroed.size(), 6u);
  EXPECT_EQ(cache->poolData(kFull)[0], 0);
}

TEST(KVCacheTest, BadArgumentsGiveClearErrors) {
  KVCache cache = makeCache(8, 8);
  RequestId id = *cache.admit(4);
  uint8_t buffer[64] = {};
  int32_t positions[4] = {};

  expectError(put(cache, 42, kFull, 0, {0}, 1), "request 42 is not admitted");
  expectError(cache.reserve(42, 8), "request 42 is not admitted");
  expectError(cache.commit(42, 1), "request 42 is not admitted");
  expectError(put(cache, id, 2, 0, {0}, 1), "pool 2 out of range");
  expectError(put(cache, id, kFull, 1, {0}, 1),
              "layer 1 out of range [0, 1) of pool 'full'");
  expectError(put(cache, id, kFull, 0, {-1}, 1), "position -1 outside");
  expectError(put(cache, id, kFull, 0, {4}, 1),
              "position 4 outside the reservation [0, 4)");
  expectError(cache.write(id, kFull, 0, positions, 1, nullptr, buffer,
                          WriteMode::Commit),
              "non-null");
  expectError(cache.read(id, kFull, 0, 5, buffer, buffer, positions),
              "read length 5");
  expectError(cache.read(42, kFull, 0, 1, buffer, buffer, positions),
              "not admitted");
  expectError(cache.read(id, kFull, 0, 1, nullptr, buffer, positions),
              "non-null");
  expectError(cache.reserve(id, -1), "must be positive");

  Result<RequestId> empty = cache.admit(0);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("admitting 0 tokens"), std::string::npos);
  EXPECT_FALSE(cache.committedLength(42));
  EXPECT_FALSE(cache.pageTable(id, -1));
  EXPECT_FALSE(cache.freePages(5));
  EXPECT_EQ(cache.poolData(5), nullptr);
  EXPECT_EQ(cache.pageBytes(-1), 0);
}

} // namespace
