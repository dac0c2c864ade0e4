//===- KVCacheAccess.cpp - KV-cache reads and writes as compiled loops ----===//
//
// One scf.parallel per op, over [B, T or S, kv_heads, head_dim]: on the host
// it becomes a loop nest, on the GPU a kernel whose threads run along
// head_dim, so neighbouring threads touch neighbouring bytes of a row.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToRuntimeAbi/KVCacheAccess.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace dgc {

MemRefType kvPoolType(dg::KVCacheType cache) {
  return MemRefType::get(
      {ShapedType::kDynamic, cache.getNumKvHeads(), cache.getHeadDim()},
      cache.getElementType());
}

MemRefType kvTableType(MLIRContext *ctx) {
  return MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                         IntegerType::get(ctx, 64));
}

namespace {

/// Index arithmetic at one insertion point.
struct IndexMath {
  OpBuilder &b;
  Location loc;

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, y);
  }
  Value ge(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, x, y);
  }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  Value toI64(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  }
  Value load(Value buffer, ValueRange indices) {
    return memref::LoadOp::create(b, loc, buffer, indices);
  }
  void store(Value value, Value buffer, ValueRange indices) {
    memref::StoreOp::create(b, loc, value, buffer, indices);
  }
  Value dim(Value shaped, int64_t d) {
    return memref::DimOp::create(b, loc, shaped, d);
  }
};

/// A buffer of `tensor` (identity layout) that the loops only read.
Value readBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), tensor,
      /*readOnly=*/true);
}

/// The table's positions: its columns after the header.
Value tablePositions(IndexMath &m, Value table) {
  return m.sub(m.dim(table, 1), m.c(kKVTableHeader));
}

/// One loop over every element of `rows` ([B, T, kv_heads, head_dim]);
/// `body` gets the request, the row, the head and the column.
void forEachElement(
    IndexMath &m, Value rows,
    function_ref<void(IndexMath &, Value, Value, Value, Value)> body) {
  auto type = cast<MemRefType>(rows.getType());
  SmallVector<Value> upper = {m.dim(rows, 0), m.dim(rows, 1),
                              m.c(type.getDimSize(2)), m.c(type.getDimSize(3))};
  scf::ParallelOp::create(m.b, m.loc, SmallVector<Value>(4, m.c(0)), upper,
                          SmallVector<Value>(4, m.c(1)),
                          [&](OpBuilder &nb, Location l, ValueRange iv) {
                            IndexMath n{nb, l};
                            body(n, iv[0], iv[1], iv[2], iv[3]);
                          });
}

/// The table entry of row `row` (position F + row) of request `req`, read
/// at row 0 when `inTable` is false (so that the load stays in bounds).
Value tableEntry(IndexMath &n, Value table, Value req, Value row,
                 Value inTable) {
  Value safe = n.select(inTable, row, n.c(0));
  return n.toIndex(n.load(table, {req, n.add(safe, n.c(kKVTableHeader))}));
}

/// The first position the table lists for request `req`.
Value firstPosition(IndexMath &n, Value table, Value req) {
  return n.toIndex(n.load(table, {req, n.c(3)}));
}

/// The pool rows of layer `layer`'s K and V at the position of request
/// `req` whose table entry is `entry` (>= 0): K is 2 * layer pages of rows
/// past the entry (layer 0's K), V a page past K.
std::pair<Value, Value> poolRows(IndexMath &m, Value table, Value req,
                                 Value entry, int64_t layer) {
  Value pageSize = m.toIndex(m.load(table, {req, m.c(1)}));
  Value key = m.add(entry, m.mul(m.c(2 * layer), pageSize));
  return {key, m.add(key, pageSize)};
}

} // namespace

void lowerKVCacheWrite(OpBuilder &b, dg::KVCacheWriteOp op, Value pool,
                       Value table) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  IndexMath m{b, loc};
  Value keys = readBuffer(b, loc, op.getKey());
  Value values = readBuffer(b, loc, op.getValue());
  Value positions = readBuffer(b, loc, op.getPositions());
  Value known = tablePositions(m, table);
  int64_t layer = op.getLayer();
  bool scratch = op.getScratch();
  forEachElement(
      m, keys, [&](IndexMath &n, Value req, Value tok, Value head, Value col) {
        OpBuilder &nb = n.b;
        Location l = n.loc;
        Value position = n.toIndex(n.load(positions, {req, tok}));
        Value row = n.sub(position, firstPosition(n, table, req));
        Value inTable = n.both(n.ge(row, n.c(0)), n.lt(row, known));
        Value entry = tableEntry(n, table, req, row, inTable);
        Value ok = n.both(inTable, n.ge(entry, n.c(0)));
        if (scratch) {
          Value committed = n.toIndex(n.load(table, {req, n.c(0)}));
          ok = n.both(ok, n.ge(position, committed));
        }
        auto write = scf::IfOp::create(nb, l, ok, /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard guard(nb);
          nb.setInsertionPointToStart(write.thenBlock());
          auto [k, v] = poolRows(n, table, req, entry, layer);
          n.store(n.load(keys, {req, tok, head, col}), pool, {k, head, col});
          n.store(n.load(values, {req, tok, head, col}), pool, {v, head, col});
          // One thread of the row reports it.
          nb.setInsertionPointToStart(write.elseBlock());
          Value first = n.both(n.eq(head, n.c(0)), n.eq(col, n.c(0)));
          auto report = scf::IfOp::create(nb, l, first);
          nb.setInsertionPointToStart(report.thenBlock());
          n.store(n.toI64(position), table, {req, n.c(2)});
        }
      });
}

namespace {

/// Row `row` of request `req` of a read: its position, whether it holds a
/// key (inside the request's length, the table and a page), and its table
/// entry (meaningful only when it does).
struct ReadRow {
  Value position, valid, entry;
};

ReadRow readRow(IndexMath &n, Value table, Value lengths, Value known,
                Value req, Value row) {
  Value length = n.toIndex(n.load(lengths, {req}));
  Value position = n.add(firstPosition(n, table, req), row);
  Value inTable = n.both(n.lt(position, length), n.lt(row, known));
  Value entry = tableEntry(n, table, req, row, inTable);
  return {position, n.both(inTable, n.ge(entry, n.c(0))), entry};
}

/// A fresh buffer for `result` of a read: [B, S, ...] with B the requests
/// and S the table's positions where they are dynamic.
Value allocRows(IndexMath &m, Type resultType, Value batch, Value known) {
  auto type = cast<RankedTensorType>(resultType);
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(batch);
  if (type.isDynamicDim(1))
    sizes.push_back(known);
  return memref::AllocOp::create(
      m.b, m.loc, MemRefType::get(type.getShape(), type.getElementType()),
      sizes);
}

Value asTensor(IndexMath &m, Value buffer, Type type) {
  return bufferization::ToTensorOp::create(m.b, m.loc, type, buffer,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

/// What both lowerings of a read start from, inserted before it: the
/// request lengths, the table's positions S and the requests B.
struct ReadStart {
  IndexMath m;
  Value lengths, known, batch;
};

ReadStart startRead(OpBuilder &b, dg::KVCacheReadOp op, Value table) {
  b.setInsertionPoint(op);
  IndexMath m{b, op.getLoc()};
  Value lengths = readBuffer(b, op.getLoc(), op.getLengths());
  Value known = tablePositions(m, table);
  return {m, lengths, known, m.dim(lengths, 0)};
}

/// Stores the position of row `row` of request `req`, or -1 if it holds no
/// key.
void storePosition(IndexMath &n, Value positions, Value req, Value row,
                   const ReadRow &at) {
  Type i32 = n.b.getI32Type();
  Value position = arith::IndexCastOp::create(n.b, n.loc, i32, at.position);
  Value none = arith::ConstantIntOp::create(n.b, n.loc, i32, -1);
  n.store(n.select(at.valid, position, none), positions, {req, row});
}

} // namespace

SmallVector<Value> lowerKVCacheRead(OpBuilder &b, dg::KVCacheReadOp op,
                                    Value pool, Value table,
                                    bool withPositions) {
  ReadStart start = startRead(b, op, table);
  IndexMath &m = start.m;
  Value lengths = start.lengths, known = start.known, batch = start.batch;
  Value keys = allocRows(m, op.getKeys().getType(), batch, known),
        values = allocRows(m, op.getValues().getType(), batch, known),
        positions;
  if (withPositions)
    positions = allocRows(m, op.getPositions().getType(), batch, known);
  Type element = cast<MemRefType>(keys.getType()).getElementType();
  int64_t layer = op.getLayer();
  forEachElement(
      m, keys, [&](IndexMath &n, Value req, Value row, Value head, Value col) {
        OpBuilder &nb = n.b;
        Location l = n.loc;
        ReadRow at = readRow(n, table, lengths, known, req, row);
        auto kv = scf::IfOp::create(nb, l, TypeRange{element, element},
                                    at.valid, /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard guard(nb);
          nb.setInsertionPointToStart(kv.thenBlock());
          auto [k, v] = poolRows(n, table, req, at.entry, layer);
          Value rows[] = {n.load(pool, {k, head, col}),
                          n.load(pool, {v, head, col})};
          scf::YieldOp::create(nb, l, rows);
          nb.setInsertionPointToStart(kv.elseBlock());
          Value zero = arith::ConstantOp::create(nb, l, element,
                                                 nb.getZeroAttr(element));
          scf::YieldOp::create(nb, l, ValueRange{zero, zero});
        }
        n.store(kv.getResult(0), keys, {req, row, head, col});
        n.store(kv.getResult(1), values, {req, row, head, col});
        if (!withPositions)
          return;
        auto first = scf::IfOp::create(
            nb, l, n.both(n.eq(head, n.c(0)), n.eq(col, n.c(0))));
        OpBuilder::InsertionGuard guard(nb);
        nb.setInsertionPointToStart(first.thenBlock());
        storePosition(n, positions, req, row, at);
      });
  SmallVector<Value> results;
  Value buffers[] = {keys, values, positions};
  for (auto [buffer, result] : llvm::zip(buffers, op.getResults()))
    results.push_back(buffer ? asTensor(m, buffer, result.getType()) : Value());
  return results;
}

KVCacheRows lowerKVCacheReadRows(OpBuilder &b, dg::KVCacheReadOp op,
                                 Value table, bool withPositions) {
  ReadStart start = startRead(b, op, table);
  IndexMath &m = start.m;
  Value lengths = start.lengths, known = start.known, batch = start.batch;
  int64_t batchSize =
      cast<RankedTensorType>(op.getPositions().getType()).getDimSize(0);
  auto rowsType = RankedTensorType::get({batchSize, ShapedType::kDynamic, 2},
                                        b.getI64Type());
  Value rows = allocRows(m, rowsType, batch, known);
  Value positions;
  if (withPositions)
    positions = allocRows(m, op.getPositions().getType(), batch, known);
  int64_t layer = op.getLayer();
  scf::ParallelOp::create(
      b, m.loc, SmallVector<Value>(2, m.c(0)), ValueRange{batch, known},
      SmallVector<Value>(2, m.c(1)),
      [&](OpBuilder &nb, Location l, ValueRange iv) {
        IndexMath n{nb, l};
        Value req = iv[0], row = iv[1];
        ReadRow at = readRow(n, table, lengths, known, req, row);
        // Computed for every row (the table's page size is always there)
        // and kept only for the rows that hold a key.
        auto [k, v] = poolRows(n, table, req, at.entry, layer);
        Value none = n.c(-1);
        n.store(n.toI64(n.select(at.valid, k, none)), rows, {req, row, n.c(0)});
        n.store(n.toI64(n.select(at.valid, v, none)), rows, {req, row, n.c(1)});
        if (withPositions)
          storePosition(n, positions, req, row, at);
      });
  return {asTensor(m, rows, rowsType),
          positions ? asTensor(m, positions, op.getPositions().getType())
                    : Value()};
}

} // namespace dgc
