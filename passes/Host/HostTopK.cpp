//===- HostTopK.cpp - A top-k as one pass over each row, on the host ------===//
//
// convert-dg-to-linalg writes top-k as k passes of a best-of-rows over the
// whole row: the sampler's top-64 reads each vocabulary row 64 times, and on
// the host took half of the denoise step. Here the loop (#dg.top_k_loop)
// becomes one pass per row that keeps the best k so far, sorted, in the
// outputs themselves:
//
//   the first k elements:  each moves up past the kept ones it beats
//   the others:            if it beats the k-th, it takes the k-th's place
//                          and moves up past the kept ones it beats
//
// The row is read in index order, so an element never beats an equal one
// already kept (the lower index wins a tie): "beats" is "greater than", with
// NaN below every number, as in the loop it replaces. On random logits only
// about k log(n / k) elements enter, so the pass is one compare per element.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/TopKLoop.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTTOPK
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Emits the selection of one row, `rows` being its leading indices.
class RowBuilder {
public:
  RowBuilder(ImplicitLocOpBuilder &b, const TopKLoop &m, ValueRange rows)
      : b(b), m(m), rows(rows) {}

  void build(int64_t length) {
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
    Value k = arith::ConstantIndexOp::create(b, m.k);
    Value last = arith::ConstantIndexOp::create(b, m.k - 1);
    Value n = arith::ConstantIndexOp::create(b, length);
    // The first k: an insertion sort.
    scf::ForOp::create(
        b, zero, k, one, ValueRange(),
        [&](OpBuilder &nested, Location loc, Value i, ValueRange) {
          ImplicitLocOpBuilder ib(loc, nested);
          RowBuilder row(ib, m, rows);
          row.insert(row.load(m.x, i), i, i);
          scf::YieldOp::create(ib);
        });
    // The rest: a compare with the k-th, kept in a register.
    Value kth = load(m.values, last);
    scf::ForOp::create(
        b, k, n, one, ValueRange{kth},
        [&](OpBuilder &nested, Location loc, Value i, ValueRange carried) {
          ImplicitLocOpBuilder ib(loc, nested);
          RowBuilder row(ib, m, rows);
          Value v = row.load(m.x, i);
          auto ifOp = scf::IfOp::create(
              ib, row.beats(v, carried[0]),
              [&](OpBuilder &thenBuilder, Location thenLoc) {
                ImplicitLocOpBuilder tb(thenLoc, thenBuilder);
                RowBuilder inner(tb, m, rows);
                inner.insert(v, i, last);
                scf::YieldOp::create(tb, inner.load(m.values, last));
              },
              [&](OpBuilder &elseBuilder, Location elseLoc) {
                scf::YieldOp::create(elseBuilder, elseLoc, carried[0]);
              });
          scf::YieldOp::create(ib, ifOp.getResult(0));
        });
  }

private:
  SmallVector<Value> at(Value j) {
    SmallVector<Value> indices(rows);
    indices.push_back(j);
    return indices;
  }

  Value load(Value buffer, Value j) {
    return memref::LoadOp::create(b, buffer, at(j));
  }

  /// v > w, NaN below every number: unordered-or-greater, v a number.
  Value beats(Value v, Value w) {
    Value above = arith::CmpFOp::create(b, arith::CmpFPredicate::UGT, v, w);
    Value number = arith::CmpFOp::create(b, arith::CmpFPredicate::ORD, v, v);
    return arith::AndIOp::create(b, above, number);
  }

  /// Puts (v, i) at position `from` of the kept list, then moves it up past
  /// the kept elements it beats (each moves down one place).
  void insert(Value v, Value i, Value from) {
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
    auto loop = scf::WhileOp::create(
        b, TypeRange{b.getIndexType()}, ValueRange{from},
        [&](OpBuilder &nested, Location loc, ValueRange args) {
          ImplicitLocOpBuilder ib(loc, nested);
          RowBuilder row(ib, m, rows);
          Value p = args[0];
          Value above = arith::MaxSIOp::create(
              ib, arith::SubIOp::create(ib, p, one), zero);
          Value more = arith::AndIOp::create(
              ib, arith::CmpIOp::create(ib, arith::CmpIPredicate::ugt, p, zero),
              row.beats(v, row.load(m.values, above)));
          scf::ConditionOp::create(ib, more, p);
        },
        [&](OpBuilder &nested, Location loc, ValueRange args) {
          ImplicitLocOpBuilder ib(loc, nested);
          RowBuilder row(ib, m, rows);
          Value p = args[0];
          Value above = arith::SubIOp::create(ib, p, one);
          memref::StoreOp::create(ib, row.load(m.values, above), m.values,
                                  row.at(p));
          memref::StoreOp::create(ib, row.load(m.indices, above), m.indices,
                                  row.at(p));
          scf::YieldOp::create(ib, above);
        });
    Value p = loop.getResult(0);
    memref::StoreOp::create(b, v, m.values, at(p));
    Value index = arith::IndexCastOp::create(b, b.getI32Type(), i);
    memref::StoreOp::create(b, index, m.indices, at(p));
  }

  ImplicitLocOpBuilder &b;
  const TopKLoop &m;
  SmallVector<Value> rows;
};

struct HostTopK : impl::DgHostTopKBase<HostTopK> {
  void runOnOperation() override {
    for (auto &[loop, m] :
         findTopKLoops(getOperation(), [](scf::ForOp, const TopKLoop &m) {
           return cast<MemRefType>(m.x.getType()).getElementType().isF32();
         }))
      rewrite(loop, m);
  }

  void rewrite(scf::ForOp loop, const TopKLoop &m) {
    ImplicitLocOpBuilder b(loop.getLoc(), loop);
    auto xType = cast<MemRefType>(m.x.getType());
    int64_t rank = xType.getRank();
    int64_t length = xType.getShape().back();
    if (rank == 1) {
      RowBuilder(b, m, ValueRange()).build(length);
      loop.erase();
      return;
    }
    // Rows are independent: a parallel loop over them.
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
    SmallVector<Value> lower(rank - 1, zero), upper, steps(rank - 1, one);
    for (int64_t d = 0; d + 1 < rank; ++d)
      upper.push_back(memref::DimOp::create(b, m.x, d));
    scf::ParallelOp::create(
        b, lower, upper, steps,
        [&](OpBuilder &nested, Location loc, ValueRange rows) {
          ImplicitLocOpBuilder ib(loc, nested);
          RowBuilder(ib, m, rows).build(length);
        });
    loop.erase();
  }
};

} // namespace
} // namespace dgc
