//===- HostVectorContractions.cpp - GEMMs as FMA register tiles -----------===//
//
// convert-linalg-to-loops makes each contraction one dot product per output
// element: two loads per multiply-add, and a horizontal sum per element.
// Here a contraction on f32 buffers becomes register tiles of vector FMAs
// inside an scf.parallel over its batch loops and column panels (the outer
// loops a thread pool can share out), in one of two forms:
//
//  - B[n, k] (k contiguous, as in x W^T): a tile of 2 rows x 4 columns holds
//    8 accumulators of 8 k-lanes each; per 8 k it loads 2 rows of A and 4
//    of B and issues 8 FMAs (3 rows spill on AVX2's 16 registers); at the
//    end each row's 4 accumulators fold to 4 sums in a few shuffles, and C
//    gets them as one 4-wide add. With AVX-512's 32 registers (still 8
//    lanes wide) the tile is 4 rows high: 16 FMAs per 8 loads.
//  - B[k, n] (n contiguous, as in P V): a tile of 4 rows x 16 columns (8
//    with 32 registers) holds 8 (16) accumulators of 8 columns each; per k
//    it broadcasts the rows' elements of A, loads 2 vectors of B and issues
//    an FMA per accumulator, k in order, within blocks of 256 k so that a
//    panel of B stays in the L1 cache across the rows.
//
// The grouped expert GEMMs (dg.moe on the host) take the first form, their B
// being the rows of the tile's expert in the experts' weights.
//
// Rows left over from the tile height get a tile one row high; columns left
// over from the panel width (dynamic sizes only, in these graphs) get panels
// one column wide that sum in the same order as the wide ones. So an element
// of C does not depend on whether it fell in a panel: attention's key count
// is the widest row of a batch, and a row's scores must not change with the
// rows beside it. Summation order changes only in the first form, by
// k-lanes.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/DenseMap.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTVECTORCONTRACTIONS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kLanes = 8;        // f32 lanes of an AVX2 register
constexpr int64_t kColumnsNT = 4;    // (fixed: the 4-way fold below)
constexpr int64_t kVectorsNN = 2;    // 16 columns
constexpr int64_t kDepthBlock = 256; // k per block of the B[k, n] form

/// Rows of each form's tiles for the vector registers the CPU has.
struct TileRows {
  int64_t nt, nn;
  static TileRows forRegisters(int64_t registers) {
    return registers >= 32 ? TileRows{4, 8} : TileRows{2, 4};
  }
};

/// A contraction C[.., m, n] += A[.., m, .., k] * B[.., n, k] or B[.., k, n]
/// on f32 buffers, in terms of the generic's loops.
struct Contraction {
  linalg::GenericOp op;
  unsigned lhs, rhs; // operand numbers of A and B
  unsigned m, n, k;
  SmallVector<unsigned> batch;
  bool nt; // B is [.., n, k]
  // A grouped expert GEMM's B, read in the body: table[max(id, 0), n, k],
  // the id an i32 input (operand `rhs`) indexed by batch loops only.
  Value table;
  TileRows tileRows{2, 4};
};

/// Position of loop `dim` among the results of `map`, or -1.
int positionOf(AffineMap map, unsigned dim) {
  for (unsigned r = 0; r < map.getNumResults(); ++r)
    if (auto e = dyn_cast<AffineDimExpr>(map.getResult(r));
        e && e.getPosition() == dim)
      return r;
  return -1;
}

bool lastIs(AffineMap map, unsigned dim) {
  return map.getNumResults() > 0 &&
         positionOf(map, dim) == int(map.getNumResults()) - 1;
}

bool unitInnerStride(Value v) {
  auto type = cast<MemRefType>(v.getType());
  return type.getRank() > 0 && type.isLastDimUnitStride();
}

/// Whether the body is `out + in0 * in1` (either operand order).
bool isMultiplyAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc   ? add.getRhs()
                  : add.getRhs() == acc ? add.getLhs()
                                        : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul)
    return false;
  Value a = body.getArgument(0), b = body.getArgument(1);
  return (mul.getLhs() == a && mul.getRhs() == b) ||
         (mul.getLhs() == b && mul.getRhs() == a);
}

/// The grouped expert GEMM convert-dg-to-linalg writes: C[t, m, n] +=
/// A[t, m, k] * table[max(id[t], 0), n, k], the table read in the body.
FailureOr<Contraction> matchGathered(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return failure();
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 8)
    return failure();
  auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || add.getLhs() != body.getArgument(2))
    return failure();
  auto mul = add.getRhs().getDefiningOp<arith::MulFOp>();
  if (!mul || mul.getLhs() != body.getArgument(0))
    return failure();
  auto load = mul.getRhs().getDefiningOp<memref::LoadOp>();
  if (!load || load.getIndices().size() != 3 ||
      op->isAncestor(load.getMemRef().getParentBlock()->getParentOp()))
    return failure();
  auto toIndex = load.getIndices()[0].getDefiningOp<arith::IndexCastOp>();
  auto clamp =
      toIndex ? toIndex.getIn().getDefiningOp<arith::MaxSIOp>() : nullptr;
  auto n = load.getIndices()[1].getDefiningOp<linalg::IndexOp>();
  auto k = load.getIndices()[2].getDefiningOp<linalg::IndexOp>();
  if (!clamp || clamp.getLhs() != body.getArgument(1) ||
      !matchPattern(clamp.getRhs(), m_Zero()) || !n || !k)
    return failure();
  auto a = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto ids = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto out = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  auto table = cast<MemRefType>(load.getMemRef().getType());
  if (!a || !ids || !out || !a.getElementType().isF32() ||
      !ids.getElementType().isInteger(32) || !out.getElementType().isF32() ||
      !table.getElementType().isF32())
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Contraction c;
  c.op = op;
  c.lhs = 0;
  c.rhs = 1;
  c.nt = true;
  c.table = load.getMemRef();
  c.n = n.getDim();
  c.k = k.getDim();
  AffineMap outMap = maps[2];
  if (!outMap.isProjectedPermutation() || outMap.getNumResults() < 2 ||
      outMap.getNumResults() != op.getNumLoops() - 1 ||
      outMap.getDimPosition(outMap.getNumResults() - 1) != c.n ||
      op.getIteratorTypesArray()[c.k] != utils::IteratorType::reduction ||
      positionOf(outMap, c.k) >= 0)
    return failure();
  c.m = outMap.getDimPosition(outMap.getNumResults() - 2);
  for (unsigned d = 0; d < op.getNumLoops(); ++d)
    if (d != c.m && d != c.n && d != c.k)
      c.batch.push_back(d);
  // A is [.., m, k] with k contiguous, the ids indexed by batch loops only.
  if (!maps[0].isProjectedPermutation() || !lastIs(maps[0], c.k) ||
      positionOf(maps[0], c.m) < 0 || positionOf(maps[0], c.n) >= 0 ||
      !maps[1].isProjectedPermutation() || positionOf(maps[1], c.m) >= 0 ||
      positionOf(maps[1], c.n) >= 0 || positionOf(maps[1], c.k) >= 0)
    return failure();
  // No generic over left-over columns: its linalg.index would restart.
  int64_t depth = a.getDimSize(positionOf(maps[0], c.k));
  int64_t columns = out.getShape().back();
  if (ShapedType::isDynamic(columns) || columns % kColumnsNT ||
      table.getDimSize(1) != columns || ShapedType::isDynamic(depth) ||
      depth % kLanes || table.getDimSize(2) != depth ||
      !unitInnerStride(op.getDpsInputs()[0]) || !unitInnerStride(c.table) ||
      !unitInnerStride(op.getDpsInits()[0]) ||
      viewRoot(op.getDpsInits()[0]) == viewRoot(op.getDpsInputs()[0]))
    return failure();
  return c;
}

FailureOr<Contraction> match(linalg::GenericOp op) {
  if (FailureOr<Contraction> gathered = matchGathered(op); succeeded(gathered))
    return gathered;
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !isMultiplyAdd(op))
    return failure();
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (!type || !type.getElementType().isF32())
      return failure();
  }
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (llvm::count(iterators, utils::IteratorType::reduction) != 1)
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  // Every index is a loop, or 0 into a dimension of size 1.
  for (auto [operand, map] : llvm::zip(op->getOperands(), maps))
    for (auto [r, e] : llvm::enumerate(map.getResults())) {
      auto constant = dyn_cast<AffineConstantExpr>(e);
      if (!isa<AffineDimExpr>(e) &&
          !(constant && constant.getValue() == 0 &&
            cast<MemRefType>(operand.getType()).getDimSize(r) == 1))
        return failure();
    }
  Contraction c;
  c.op = op;
  c.k =
      llvm::find(iterators, utils::IteratorType::reduction) - iterators.begin();
  AffineMap out = maps[2];
  // C is indexed by every parallel loop, m and n last.
  if (!out.isProjectedPermutation() ||
      out.getNumResults() != op.getNumLoops() - 1 || out.getNumResults() < 2 ||
      positionOf(out, c.k) >= 0)
    return failure();
  c.n = out.getDimPosition(out.getNumResults() - 1);
  c.m = out.getDimPosition(out.getNumResults() - 2);
  bool firstHasN = positionOf(maps[0], c.n) >= 0;
  c.rhs = firstHasN ? 0 : 1;
  c.lhs = 1 - c.rhs;
  AffineMap a = maps[c.lhs], b = maps[c.rhs];
  if (positionOf(a, c.n) >= 0 || positionOf(a, c.m) < 0 ||
      positionOf(b, c.m) >= 0 || positionOf(a, c.k) < 0 ||
      positionOf(b, c.k) < 0)
    return failure();
  for (unsigned d = 0; d < op.getNumLoops(); ++d)
    if (d != c.m && d != c.n && d != c.k)
      c.batch.push_back(d);
  Value lhs = op.getDpsInputs()[c.lhs], rhs = op.getDpsInputs()[c.rhs];
  Value result = op.getDpsInits()[0];
  if (viewRoot(result) == viewRoot(lhs) || viewRoot(result) == viewRoot(rhs))
    return failure();
  if (!unitInnerStride(result) || !unitInnerStride(rhs))
    return failure();
  if (lastIs(a, c.k) && lastIs(b, c.k)) {
    // 8 k per step: the depth must be a static multiple of 8.
    int64_t depth =
        cast<MemRefType>(lhs.getType()).getDimSize(positionOf(a, c.k));
    if (ShapedType::isDynamic(depth) || depth % kLanes || !unitInnerStride(lhs))
      return failure();
    c.nt = true;
    return c;
  }
  if (!lastIs(b, c.n))
    return failure();
  c.nt = false;
  return c;
}

/// Emits one contraction's tiles in place of its generic.
class TileBuilder {
public:
  TileBuilder(ImplicitLocOpBuilder &b, Contraction &c)
      : b(b), c(c), maps(c.op.getIndexingMapsArray()) {
    lhs = c.op.getDpsInputs()[c.lhs];
    rhs = c.table ? c.table : c.op.getDpsInputs()[c.rhs];
    out = c.op.getDpsInits()[0];
    vectorType = VectorType::get({kLanes}, b.getF32Type());
  }

  void build() {
    sizes = loopSizes(b, b.getLoc(), c.op);
    int64_t width = c.nt ? kColumnsNT : kLanes * kVectorsNN;
    std::optional<int64_t> columns = getConstantIntValue(sizes[c.n]);
    bool tail = !columns || *columns % width;
    if (std::optional<double> start = foldConstantInit(c.op))
      startValue = *start;
    Value panels = roundDown(sizes[c.n], width);
    emitPanels(index(0), panels, width);
    if (tail)
      emitPanels(panels, sizes[c.n], 1);
    c.op.erase();
  }

private:
  /// Panels of `width` columns of C over the columns [from, to), each with
  /// its rows and k: one scf.parallel with the batch loops.
  void emitPanels(Value from, Value to, int64_t width) {
    SmallVector<Value> lower(c.batch.size(), index(0)), upper, steps;
    for (unsigned d : c.batch)
      upper.push_back(sizes[d]);
    lower.push_back(from);
    upper.push_back(to);
    steps.assign(c.batch.size(), index(1));
    steps.push_back(index(width));
    scf::ParallelOp::create(
        b, lower, upper, steps,
        [&](OpBuilder &nested, Location loc, ValueRange ivs) {
          ImplicitLocOpBuilder ib(loc, nested);
          TileBuilder inner = child(ib);
          inner.panelWidth = width;
          for (auto [d, iv] : llvm::zip(c.batch, ivs))
            inner.at[d] = iv;
          inner.at[c.n] = ivs.back();
          if (c.table) {
            // The table's row for this batch: max(id, 0), read once.
            Value id = memref::LoadOp::create(ib, c.op.getDpsInputs()[c.rhs],
                                              inner.indices(c.rhs));
            Value row = arith::MaxSIOp::create(
                ib, id, arith::ConstantIntOp::create(ib, 0, 32));
            inner.tableRow =
                arith::IndexCastOp::create(ib, ib.getIndexType(), row);
          }
          if (c.nt)
            inner.rowsNT();
          else
            inner.depthBlocksNN();
        });
  }

  /// A builder for a nested region at `ib`, with this one's state.
  TileBuilder child(ImplicitLocOpBuilder &ib) const {
    TileBuilder inner(ib, c);
    inner.panelWidth = panelWidth;
    inner.sizes = sizes;
    inner.startValue = startValue;
    inner.at = at;
    inner.blockStart = blockStart;
    inner.blockEnd = blockEnd;
    inner.firstBlock = firstBlock;
    inner.tableRow = tableRow;
    return inner;
  }

  Value splat(VectorType type, float value) {
    return arith::ConstantOp::create(
        b, type, DenseElementsAttr::get(type, ArrayRef<float>(value)));
  }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, int64_t v) {
    return v ? arith::AddIOp::create(b, x, index(v)).getResult() : x;
  }
  Value roundDown(Value size, int64_t step) {
    return arith::SubIOp::create(b, size,
                                 arith::RemUIOp::create(b, size, index(step)));
  }

  /// Indices into operand `which` at the loop values `at`, `m` + `row`,
  /// `n` + `column`.
  SmallVector<Value> indices(unsigned which, int64_t row = 0,
                             int64_t column = 0) {
    SmallVector<Value> result;
    for (AffineExpr e : maps[which].getResults()) {
      auto dim = dyn_cast<AffineDimExpr>(e);
      if (!dim) {
        result.push_back(index(0));
        continue;
      }
      unsigned d = dim.getPosition();
      Value v = at.lookup(d);
      result.push_back(d == c.m ? add(v, row) : d == c.n ? add(v, column) : v);
    }
    return result;
  }

  /// Indices into B at `n` + `column`: through its map, or into the
  /// gathered table at this batch's row of it.
  SmallVector<Value> rhsIndices(int64_t column) {
    if (!c.table)
      return indices(c.rhs, 0, column);
    return {tableRow, add(at.lookup(c.n), column), at.lookup(c.k)};
  }

  /// The full tiles of rows, then the rows left over one at a time.
  template <typename Tile> void rows(int64_t height, Tile tile) {
    Value full = roundDown(sizes[c.m], height);
    auto loop = [&](Value from, Value to, int64_t step, int64_t tileRows) {
      scf::ForOp::create(
          b, from, to, index(step), ValueRange(),
          [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
            ImplicitLocOpBuilder ib(loc, nested);
            TileBuilder inner = child(ib);
            inner.at[c.m] = iv;
            (inner.*tile)(tileRows);
            scf::YieldOp::create(ib);
          });
    };
    loop(index(0), full, height, height);
    loop(full, sizes[c.m], 1, 1);
  }

  void rowsNT() { rows(c.tileRows.nt, &TileBuilder::tileNT); }

  /// x + y pairwise within each 128-bit half:
  /// [x0+x1, x2+x3, y0+y1, y2+y3, x4+x5, x6+x7, y4+y5, y6+y7].
  Value pairSums(Value x, Value y) {
    Value even = vector::ShuffleOp::create(
        b, x, y, ArrayRef<int64_t>{0, 2, 8, 10, 4, 6, 12, 14});
    Value odd = vector::ShuffleOp::create(
        b, x, y, ArrayRef<int64_t>{1, 3, 9, 11, 5, 7, 13, 15});
    return arith::AddFOp::create(b, even, odd);
  }

  /// The 4 sums of 4 vectors' lanes, as one vector<4xf32>.
  Value sumsOf4(ArrayRef<Value> v) {
    Value t = pairSums(pairSums(v[0], v[1]), pairSums(v[2], v[3]));
    Value low =
        vector::ShuffleOp::create(b, t, t, ArrayRef<int64_t>{0, 1, 2, 3});
    Value high =
        vector::ShuffleOp::create(b, t, t, ArrayRef<int64_t>{4, 5, 6, 7});
    return arith::AddFOp::create(b, low, high);
  }

  /// The sum of one vector's lanes, as a vector<1xf32>, added in the order
  /// sumsOf4 adds each of its vectors: (0+1 + 2+3) + (4+5 + 6+7).
  Value sumOf1(Value v) {
    Value pairs = pairSums(v, v);
    Value t = pairSums(pairs, pairs);
    Value low = vector::ShuffleOp::create(b, t, t, ArrayRef<int64_t>{0});
    Value high = vector::ShuffleOp::create(b, t, t, ArrayRef<int64_t>{4});
    return arith::AddFOp::create(b, low, high);
  }

  /// `height` rows x 4 columns of C (1 in a tail panel), k in lanes of 8.
  void tileNT(int64_t height) {
    const int64_t columns = panelWidth;
    Value zero = splat(vectorType, 0.0f);
    SmallVector<Value> inits(height * columns, zero);
    auto loop = scf::ForOp::create(
        b, index(0), sizes[c.k], index(kLanes), inits,
        [&](OpBuilder &nested, Location loc, Value k, ValueRange acc) {
          ImplicitLocOpBuilder ib(loc, nested);
          TileBuilder inner = child(ib);
          inner.at[c.k] = k;
          SmallVector<Value> a, bs, next;
          for (int64_t i = 0; i < height; ++i)
            a.push_back(vector::LoadOp::create(ib, vectorType, inner.lhs,
                                               inner.indices(c.lhs, i)));
          for (int64_t j = 0; j < columns; ++j)
            bs.push_back(vector::LoadOp::create(ib, vectorType, inner.rhs,
                                                inner.rhsIndices(j)));
          for (int64_t i = 0; i < height; ++i)
            for (int64_t j = 0; j < columns; ++j)
              next.push_back(
                  vector::FMAOp::create(ib, a[i], bs[j], acc[i * columns + j]));
          scf::YieldOp::create(ib, next);
        });
    auto rowType = VectorType::get({columns}, b.getF32Type());
    for (int64_t i = 0; i < height; ++i) {
      SmallVector<Value> results(loop.getResults());
      ArrayRef<Value> row =
          ArrayRef<Value>(results).slice(i * columns, columns);
      Value sums = columns == kColumnsNT ? sumsOf4(row) : sumOf1(row[0]);
      SmallVector<Value> where = indices(2, i);
      Value start =
          startValue
              ? splat(rowType, *startValue)
              : vector::LoadOp::create(b, rowType, out, where).getResult();
      vector::StoreOp::create(b, arith::AddFOp::create(b, start, sums), out,
                              where);
    }
  }

  /// Blocks of k, each over every row, so B's panel block stays cached.
  void depthBlocksNN() {
    Value depth = sizes[c.k];
    scf::ForOp::create(
        b, index(0), depth, index(kDepthBlock), ValueRange(),
        [&](OpBuilder &nested, Location loc, Value k0, ValueRange) {
          ImplicitLocOpBuilder ib(loc, nested);
          TileBuilder inner = child(ib);
          inner.blockStart = k0;
          inner.blockEnd = arith::MinUIOp::create(
              ib, arith::AddIOp::create(ib, k0, inner.index(kDepthBlock)),
              depth);
          inner.firstBlock = arith::CmpIOp::create(ib, arith::CmpIPredicate::eq,
                                                   k0, inner.index(0));
          inner.rows(c.tileRows.nn, &TileBuilder::tileNN);
          scf::YieldOp::create(ib);
        });
  }

  /// `height` rows x 16 columns of C (1 in a tail panel) over one block of
  /// k, k in order.
  void tileNN(int64_t height) {
    const int64_t lanes = std::min(panelWidth, kLanes);
    const int64_t vectors = panelWidth / lanes;
    auto vectorType = VectorType::get({lanes}, b.getF32Type());
    SmallVector<Value> inits;
    Value start = startValue ? splat(vectorType, *startValue) : Value();
    for (int64_t i = 0; i < height; ++i)
      for (int64_t j = 0; j < vectors; ++j) {
        Value loaded = vector::LoadOp::create(b, vectorType, out,
                                              indices(2, i, j * lanes));
        // The first block starts from C's constant: its buffer was never
        // filled.
        inits.push_back(
            start ? arith::SelectOp::create(b, firstBlock, start, loaded)
                        .getResult()
                  : loaded);
      }
    auto loop = scf::ForOp::create(
        b, blockStart, blockEnd, index(1), inits,
        [&](OpBuilder &nested, Location loc, Value k, ValueRange acc) {
          ImplicitLocOpBuilder ib(loc, nested);
          TileBuilder inner = child(ib);
          inner.at[c.k] = k;
          SmallVector<Value> bs, next;
          for (int64_t j = 0; j < vectors; ++j)
            bs.push_back(vector::LoadOp::create(
                ib, vectorType, inner.rhs, inner.indices(c.rhs, 0, j * lanes)));
          for (int64_t i = 0; i < height; ++i) {
            Value a = vector::BroadcastOp::create(
                ib, vectorType,
                memref::LoadOp::create(ib, inner.lhs, inner.indices(c.lhs, i)));
            for (int64_t j = 0; j < vectors; ++j)
              next.push_back(
                  vector::FMAOp::create(ib, a, bs[j], acc[i * vectors + j]));
          }
          scf::YieldOp::create(ib, next);
        });
    for (int64_t i = 0; i < height; ++i)
      for (int64_t j = 0; j < vectors; ++j)
        vector::StoreOp::create(b, loop.getResult(i * vectors + j), out,
                                indices(2, i, j * lanes));
  }

  ImplicitLocOpBuilder &b;
  Contraction &c;
  SmallVector<AffineMap> maps;
  Value lhs, rhs, out;
  VectorType vectorType;
  int64_t panelWidth = 0; // columns of C per panel
  SmallVector<Value> sizes;
  std::optional<double> startValue;
  llvm::DenseMap<unsigned, Value> at; // loop -> its value at this point
  Value blockStart, blockEnd, firstBlock;
  Value tableRow;
};

struct HostVectorContractions
    : impl::DgHostVectorContractionsBase<HostVectorContractions> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorRegisters != 16 && vectorRegisters != 32) {
      getOperation().emitError()
          << "dg-host-vector-contractions: vector-registers must be 16 or "
             "32, got "
          << static_cast<int64_t>(vectorRegisters);
      return signalPassFailure();
    }
    SmallVector<Contraction> found;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (FailureOr<Contraction> c = match(op); succeeded(c)) {
        c->tileRows = TileRows::forRegisters(vectorRegisters);
        found.push_back(*c);
      }
    });
    for (Contraction &c : found) {
      ImplicitLocOpBuilder b(c.op.getLoc(), c.op);
      TileBuilder(b, c).build();
    }
  }
};

} // namespace

int64_t hostContractionTileRows(int64_t vectorRegisters) {
  return TileRows::forRegisters(vectorRegisters).nt;
}

} // namespace dgc
