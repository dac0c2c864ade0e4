//===- KVCacheAccess.cpp - KV-cache reads and writes as compiled loops ----===//
//
// One scf.parallel per op, over [B, T or S, kv_heads, head_dim]: on the host
// it becomes a loop nest, on the GPU a kernel whose threads run along
// head_dim, so neighbouring threads touch neighbouring bytes of a row.
//
//===----------------------------------------------------------------------===//

#include "passes/KVCacheAccess.h"

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

/// The pool row of layer `layer`'s K at the position whose table entry is
/// `entry` (>= 0); V is `pageSize` rows further.
Value keyRow(IndexMath &m, Value entry, Value pageSize, int64_t layer) {
  return m.add(entry, m.mul(m.c(2 * layer), pageSize));
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
          Value pageSize = n.toIndex(n.load(table, {req, n.c(1)}));
          Value k = keyRow(n, entry, pageSize, layer);
          n.store(n.load(keys, {req, tok, head, col}), pool, {k, head, col});
          n.store(n.load(values, {req, tok, head, col}), pool,
                  {n.add(k, pageSize), head, col});
          // One thread of the row reports it.
          nb.setInsertionPointToStart(write.elseBlock());
          Value first = n.both(n.eq(head, n.c(0)), n.eq(col, n.c(0)));
          auto report = scf::IfOp::create(nb, l, first);
          nb.setInsertionPointToStart(report.thenBlock());
          n.store(n.toI64(position), table, {req, n.c(2)});
        }
      });
}

SmallVector<Value> lowerKVCacheRead(OpBuilder &b, dg::KVCacheReadOp op,
                                    Value pool, Value table) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  IndexMath m{b, loc};
  Value lengths = readBuffer(b, loc, op.getLengths());
  Value known = tablePositions(m, table);
  Value batch = m.dim(lengths, 0);
  auto alloc = [&](Value result) -> Value {
    auto type = cast<RankedTensorType>(result.getType());
    SmallVector<Value> sizes;
    if (type.isDynamicDim(0))
      sizes.push_back(batch);
    if (type.isDynamicDim(1))
      sizes.push_back(known);
    return memref::AllocOp::create(
        b, loc, MemRefType::get(type.getShape(), type.getElementType()), sizes);
  };
  Value keys = alloc(op.getKeys()), values = alloc(op.getValues()),
        positions = alloc(op.getPositions());
  Type element = cast<MemRefType>(keys.getType()).getElementType();
  int64_t layer = op.getLayer();
  forEachElement(
      m, keys, [&](IndexMath &n, Value req, Value row, Value head, Value col) {
        OpBuilder &nb = n.b;
        Location l = n.loc;
        Value length = n.toIndex(n.load(lengths, {req}));
        Value position = n.add(firstPosition(n, table, req), row);
        Value inTable = n.both(n.lt(position, length), n.lt(row, known));
        Value entry = tableEntry(n, table, req, row, inTable);
        Value valid = n.both(inTable, n.ge(entry, n.c(0)));
        auto kv = scf::IfOp::create(nb, l, TypeRange{element, element}, valid,
                                    /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard guard(nb);
          nb.setInsertionPointToStart(kv.thenBlock());
          Value pageSize = n.toIndex(n.load(table, {req, n.c(1)}));
          Value k = keyRow(n, entry, pageSize, layer);
          Value rows[] = {n.load(pool, {k, head, col}),
                          n.load(pool, {n.add(k, pageSize), head, col})};
          scf::YieldOp::create(nb, l, rows);
          nb.setInsertionPointToStart(kv.elseBlock());
          Value zero = arith::ConstantOp::create(nb, l, element,
                                                 nb.getZeroAttr(element));
          scf::YieldOp::create(nb, l, ValueRange{zero, zero});
        }
        n.store(kv.getResult(0), keys, {req, row, head, col});
        n.store(kv.getResult(1), values, {req, row, head, col});
        auto first = scf::IfOp::create(
            nb, l, n.both(n.eq(head, n.c(0)), n.eq(col, n.c(0))));
        OpBuilder::InsertionGuard guard(nb);
        nb.setInsertionPointToStart(first.thenBlock());
        Value i32 =
            arith::IndexCastOp::create(nb, l, nb.getI32Type(), position);
        Value none = arith::ConstantIntOp::create(nb, l, nb.getI32Type(), -1);
        n.store(n.select(valid, i32, none), positions, {req, row});
      });
  SmallVector<Value> results;
  Value buffers[] = {keys, values, positions};
  for (auto [buffer, result] : llvm::zip(buffers, op.getResults()))
    results.push_back(bufferization::ToTensorOp::create(
        b, loc, result.getType(), buffer, /*restrict=*/true,
        /*writable=*/true));
  return results;
}

} // namespace dgc
