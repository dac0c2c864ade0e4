//===- KVCacheAccess.h - KV-cache reads and writes as compiled loops -*- C++
//-*-===//
//
// A `!dg.kv_cache` argument becomes two buffers the runtime fills before the
// call (docs/module-format.md):
//
//   pool  memref<?xHxDxT>  every row of the pool: the row of (layer l, K or V
//                          kv, position p) is table[b, 4 + p - F] + (2l + kv) *
//                          P
//   table memref<?x?xi64>  [B, 4 + S]: per request b, column 0 the committed
//                          length, 1 the page size P, 2 the error cell
//                          (kKVTableNoError, or a position the graph could not
//                          write), 3 the first position F the table lists,
//                          4 + s the pool row of position F + s's layer-0 K,
//                          or -1 outside the reservation and in recycled pages
//
// A sliding pool's table starts at F = max(0, L - window + 1): no query of a
// pass, all at or after the committed length L, sees a key before that, so
// a read returns the window and the canvas, not the whole context.
//
// so that the cache ops are loops over the pages, the same on the host and
// on the GPU, with nothing for the host to copy or wait for.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_DGTORUNTIMEABI_KVCACHEACCESS_H
#define DGC_PASSES_DGTORUNTIMEABI_KVCACHEACCESS_H

#include "dg/DgDialect.h"
#include "dgc/runtime/ModuleFormat.h"

#include "mlir/IR/Builders.h"

namespace dgc {

// The table's layout, shared with the runtime's CacheBinding.
using runtime::kKVTableHeader;
using runtime::kKVTableNoError;

/// The pool buffer type of `cache`.
mlir::MemRefType kvPoolType(dg::KVCacheType cache);
/// The table buffer type.
mlir::MemRefType kvTableType(mlir::MLIRContext *ctx);

/// Stores the rows of `op` through `table` into `pool`; a position outside
/// the reservation, in a recycled page, or (scratch) below the committed
/// length is skipped and left in the error cell. Inserts before `op`.
void lowerKVCacheWrite(mlir::OpBuilder &b, dg::KVCacheWriteOp op,
                       mlir::Value pool, mlir::Value table);

/// The keys, values and positions `op` reads, gathered from `pool` through
/// `table`: row s of request b holds position F_b + s (the table's first
/// position); rows at or past `lengths[b]` and rows without a page are zero
/// with position -1. Without `withPositions` the positions (the same for
/// every layer of a cache) are left out, a null value. Inserts before `op`.
llvm::SmallVector<mlir::Value>
lowerKVCacheRead(mlir::OpBuilder &b, dg::KVCacheReadOp op, mlir::Value pool,
                 mlir::Value table, bool withPositions = true);

/// What a kernel that reads the pool in place needs of a read (the paged
/// dg.masked_attention): `rows` [B, S, 2] i64, the pool rows of K and V of
/// row s of request b (-1 where lowerKVCacheRead gives a zero row), and
/// the positions as lowerKVCacheRead gives them.
struct KVCacheRows {
  mlir::Value rows, positions;
};

/// The rows `op` reads, as pool row numbers through `table`; the K/V rows
/// themselves stay in the pool. Without `withPositions`, `positions` is
/// null. Inserts before `op`.
KVCacheRows lowerKVCacheReadRows(mlir::OpBuilder &b, dg::KVCacheReadOp op,
                                 mlir::Value table, bool withPositions = true);

} // namespace dgc

#endif // DGC_PASSES_DGTORUNTIMEABI_KVCACHEACCESS_H
