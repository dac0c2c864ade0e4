//===- FlashAttentionKernel.cpp - One block of the flash kernel -----------===//
//
// Block (x, y, z) computes output columns [128 s, 128 s + 128) of query
// rows [64 r, 64 r + 64) of head y of batch row z, with x = r * slices + s.
// Warp w owns rows 16 w .. 16 w + 15 of the block's; with g = lane / 4 and
// t = lane % 4 a lane holds rows g and g + 8 of them (the mma.sync C
// layout, see MmaTileKernel.cpp), so the four lanes of a quad share a row
// and its statistics combine with two xor shuffles.
//
// Per tile of 32 keys:
//   0. the block votes (bar.red.or) on whether any of its queries sees a
//      key of the tile; a tile none sees (outside every row's sliding
//      window, past a causal diagonal, padding) is skipped;
//   1. S = Q K^T, 64 dimensions at a time: the block stages K[32 x 64] (and
//      Q[64 x 64] when the head dimension exceeds 256; smaller heads keep
//      the block's queries in shared memory from the start) and each warp
//      runs 4 x 4 mma.sync, its fragments loaded with ldmatrix.x4 (one for
//      Q, one per two n8 tiles of K);
//   2. the scores are rounded, scaled and masked as dg.masked_attention
//      specifies, the running maximum m and sum l of each row updated, the
//      output accumulators rescaled by exp(m_old - m_new);
//   3. P = exp(S - m) is rounded to bf16; the accumulator layout of two
//      neighbouring n8 tiles is the A layout of one k16 step, so P feeds
//      the next product from registers;
//   4. O += P V with V[32 x 128] staged in shared memory, read with
//      transposing ldmatrix.x4 (V's keys run down its columns).
// The output is O / l, rounded. A block recomputes S for each of its head's
// column slices (twice for head dimension 256, four times for 512), which
// keeps a lane's accumulators at 64 registers.
//
//===----------------------------------------------------------------------===//

#include "passes/Cuda/FlashAttentionKernel.h"

#include "passes/Cuda/MmaTileKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kThreads = kFlashThreads, kTileRows = kFlashRows;
constexpr int64_t kTileKeys = 32;
/// Dimensions of Q and K staged per step of the score product.
constexpr int64_t kDepthStep = 64;
/// Head dimensions up to this keep the block's queries in shared memory for
/// the whole kernel (64 x 264 bf16; with the key and value tiles just under
/// the 48 KB of static shared memory). Larger ones restage their queries
/// with the keys, one depth step at a time, for every key tile.
constexpr int64_t kResidentQueryDims = 256;
/// Output columns per block: 16 n8 tiles, 64 accumulators a lane.
constexpr int64_t kSlice = kFlashSlice;
/// The iteration state over key tiles: a lane's output accumulators (16 n8
/// tiles of 4), then the running maximum and sum of its rows qa and qb.
constexpr int64_t kAcc = 4 * kSlice / 8;

bool residentQueries(int64_t headDim) {
  return llvm::alignTo(headDim, kDepthStep) <= kResidentQueryDims;
}

/// The columns of the shared query tile: the whole (padded) head when the
/// queries stay resident, else one depth step.
int64_t queryTileWidth(int64_t headDim) {
  return residentQueries(headDim) ? llvm::alignTo(headDim, kDepthStep)
                                  : kDepthStep;
}

class FlashKernelBuilder : KernelArith {
public:
  FlashKernelBuilder(OpBuilder &b, Location loc, dg::MaskedAttentionOp op,
                     Value queryCount, Value keyCount,
                     std::array<bool, 3> vectors)
      : KernelArith(b, loc), op(op), T(queryCount), S(keyCount),
        vectors(vectors) {
    auto q = cast<MemRefType>(op.getQ().getType());
    heads = q.getDimSize(2);
    headDim = q.getDimSize(3);
    auto keys = cast<MemRefType>(op.getKeys().getType());
    groups = heads / keys.getDimSize(keys.getRank() - 2);
  }

  int64_t slices() const { return flashAttentionSlices(headDim); }
  bool residentQueries() const { return dgc::residentQueries(headDim); }
  void build(gpu::LaunchOp launch);

private:
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value toBf16(Value x) {
    return arith::TruncFOp::create(b, loc, b.getBF16Type(), x);
  }
  Value toF32(Value x) {
    return arith::ExtFOp::create(b, loc, b.getF32Type(), x);
  }
  /// What storing x as bf16 and reading it back gives.
  Value roundTrip(Value x) { return toF32(toBf16(x)); }
  /// The row's combination over the quad of lanes that holds it.
  Value acrossQuad(Value x, function_ref<Value(Value, Value)> combine) {
    for (int32_t offset : {1, 2})
      x = combine(x, gpu::ShuffleOp::create(b, loc, x, offset, 32,
                                            gpu::ShuffleMode::XOR)
                         .getShuffleResult());
    return x;
  }
  /// Copies rows x cols elements of `source` into `tile`, consecutive
  /// threads taking consecutive columns; at(row, col) gives the element's
  /// indices in `source` and whether they lie inside it. With `vectors`, 8
  /// at a time as one 16-byte cp.async (zero-filled outside `source`,
  /// without reading it) that lands before this returns, so no register
  /// holds the data on the way; else element by element.
  void
  stage(Value tile, int64_t rows, int64_t cols, Value source, bool vectors,
        function_ref<std::pair<SmallVector<Value>, Value>(Value, Value)> at) {
    int64_t width = vectors ? 8 : 1, perRow = cols / width;
    auto loop =
        scf::ForOp::create(b, loc, c(0), c(rows * perRow / kThreads), c(1));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value idx = add(mul(loop.getInductionVar(), c(kThreads)), tid);
      Value row = div(idx, perRow), col = mul(rem(idx, perRow), c(width));
      auto [indices, inBounds] = at(row, col);
      if (!vectors) {
        memref::StoreOp::create(
            b, loc, loadOrZero(b, loc, MmaAccess{source, indices}, inBounds),
            tile, ValueRange{row, col});
        return;
      }
      copyEightOrZerosAsync(b, loc, tile, row, col, MmaAccess{source, indices},
                            inBounds);
    }
    // This thread's copies are in shared memory once their group is done;
    // the caller's barrier then publishes everyone's.
    waitForCopies(b, loc, 0);
  }

  /// This lane's row for accumulator register i of an m16n8 tile set.
  Value rowOf(int64_t i) { return i % 4 < 2 ? qa : qb; }
  /// This lane's column for accumulator register i of an m16n8 tile set
  /// (tile i / 4, column 2t + i % 2 of its 8).
  Value columnOf(int64_t i) {
    return add(mul(t, c(2)), c(8 * (i / 4) + i % 2));
  }
  /// mask[batch, row, key] in f32, -inf outside the queries or the keys.
  Value maskAt(Value row, Value key) {
    Type bf16 = b.getBF16Type();
    auto masked = scf::IfOp::create(b, loc, bf16,
                                    both(below(key, S), below(row, T)), true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&masked.getThenRegion().front());
    scf::YieldOp::create(b, loc,
                         memref::LoadOp::create(b, loc, op.getMask(),
                                                ValueRange{batch, row, key})
                             .getResult());
    b.setInsertionPointToStart(&masked.getElseRegion().front());
    scf::YieldOp::create(b, loc, toBf16(minusInf));
    b.setInsertionPointAfter(masked);
    return toF32(masked.getResult(0));
  }

  /// Stages columns [d0, d0 + width) of the block's queries into sQ.
  void stageQueries(Value sQ, Value d0, int64_t width) {
    Value D = c(headDim);
    stage(sQ, kTileRows, width, op.getQ(), vectors[0],
          [&](Value row, Value col) {
            Value qRow = add(q0, row), dim = add(d0, col);
            return std::make_pair(SmallVector<Value>{batch, qRow, head, dim},
                                  both(below(qRow, T), below(dim, D)));
          });
  }
  /// Stages columns [d0, d0 + cols) of the key tile at k0 of `rows` (the
  /// keys, `part` 0, or the values, 1) into `tile`. Paged rows are read
  /// from the pool where the op's row numbers point.
  void stageKeyRows(Value tile, int64_t cols, Value rows, int64_t part,
                    bool vectors, Value k0, Value d0) {
    Value D = c(headDim);
    stage(tile, kTileKeys, cols, rows, vectors, [&](Value row, Value col) {
      Value key = add(k0, row), dim = add(d0, col);
      Value keyInside = below(key, S);
      Value inBounds = both(keyInside, below(dim, D));
      if (!op.getRows())
        return std::make_pair(SmallVector<Value>{batch, key, kvHead, dim},
                              inBounds);
      // The row number of a key past the end is never used: read key 0's.
      Value safeKey = arith::SelectOp::create(b, loc, keyInside, key, c(0));
      Value poolRow = arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          memref::LoadOp::create(b, loc, op.getRows(),
                                 ValueRange{batch, safeKey, c(part)}));
      Value present = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                            poolRow, c(0));
      return std::make_pair(SmallVector<Value>{poolRow, kvHead, dim},
                            both(inBounds, present));
    });
  }
  SmallVector<Value> scores(Value k0, Value sQ, Value sK);
  SmallVector<Value> keyTile(Value k0, ValueRange state, ValueRange mask);

  dg::MaskedAttentionOp op;
  Value T, S;
  int64_t heads, headDim, groups;
  /// Whether Q, K and V are staged 16 bytes at a time.
  std::array<bool, 3> vectors;
  Value tid, g, t, batch, head, kvHead, q0, warpRow;
  /// Where this lane points its ldmatrix loads.
  MatrixLanes lanes;
  /// This lane's two query rows, the block's first output column.
  Value qa, qb, d0, minusInf;
  ValueRange shared;
};

/// This warp's 16 x 32 scores of the key tile at k0, as four m16n8
/// accumulators.
SmallVector<Value> FlashKernelBuilder::scores(Value k0, Value sQ, Value sK) {
  Value D = c(headDim);
  SmallVector<Value> zeros(16, f32(0.0));
  auto depth = scf::ForOp::create(b, loc, c(0), D, c(kDepthStep), zeros);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(depth.getBody());
  Value d0 = depth.getInductionVar();
  // Resident queries are read at their dimension, restaged ones at their
  // offset in this depth step.
  Value qCol = residentQueries() ? d0 : c(0);
  if (!residentQueries())
    stageQueries(sQ, d0, kDepthStep);
  stageKeyRows(sK, kDepthStep, op.getKeys(), 0, vectors[1], k0, d0);
  gpu::BarrierOp::create(b, loc);
  SmallVector<Value> acc(depth.getRegionIterArgs());
  for (int64_t kk = 0; kk < kDepthStep; kk += 16) {
    SmallVector<Value, 4> fragA = loadMatrices(
        sQ, add(warpRow, lanes.lane16), add(qCol, add(lanes.half8, c(kk))),
        /*transpose=*/false);
    for (int64_t j = 0; j < 4; j += 2) {
      // sK is [key][dimension]: B = K^T with k (the dimension) fastest, so
      // the keys of two n8 tiles are the rows of four 8 x 8 matrices.
      SmallVector<Value, 4> fragB = loadMatrices(
          sK, add(c(8 * j), lanes.pairRow), add(lanes.pairCol, c(kk)),
          /*transpose=*/false);
      for (int64_t h = 0; h < 2; ++h)
        mmaBf16(b, loc, fragA, ArrayRef<Value>(fragB).slice(2 * h, 2),
                MutableArrayRef<Value>(acc).slice(4 * (j + h), 4));
    }
  }
  gpu::BarrierOp::create(b, loc);
  scf::YieldOp::create(b, loc, acc);
  return SmallVector<Value>(depth.getResults());
}

/// One tile of 32 keys at k0, whose mask values for this lane's 16 scores
/// are `mask`: the scores, the online softmax update and O += P V; returns
/// the iteration state after it.
SmallVector<Value> FlashKernelBuilder::keyTile(Value k0, ValueRange state,
                                               ValueRange mask) {
  SmallVector<Value> acc(state.take_front(kAcc));
  Value oldMax[2] = {state[kAcc], state[kAcc + 1]};
  Value oldSum[2] = {state[kAcc + 2], state[kAcc + 3]};

  // Scores as the op rounds them: the product, the scaled product and
  // the masked sum each in bf16; keys past the end are masked out.
  SmallVector<Value> s = scores(k0, shared[0], shared[1]);
  double scale = op.getScale().convertToDouble();
  Value scaleBf16 = scale == 1.0
                        ? Value()
                        : toF32(arith::ConstantOp::create(
                              b, loc, b.getFloatAttr(b.getBF16Type(), scale)));
  Value rowMax[2] = {minusInf, minusInf};
  for (int64_t i = 0; i < 16; ++i) {
    Value x = roundTrip(s[i]);
    if (scaleBf16)
      x = roundTrip(fmul(x, scaleBf16));
    s[i] = roundTrip(fadd(x, mask[i]));
    rowMax[i % 4 / 2] = fmax(rowMax[i % 4 / 2], s[i]);
  }

  // Online softmax: shift by the new maximum (0 while a row has seen only
  // masked keys, so that exp never sees -inf - -inf) and rescale.
  Value newMax[2], shift[2], alpha[2], rowSum[2] = {f32(0.0), f32(0.0)};
  for (int r = 0; r < 2; ++r) {
    newMax[r] = fmax(oldMax[r], acrossQuad(rowMax[r], [&](Value x, Value y) {
                       return fmax(x, y);
                     }));
    Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                       newMax[r], minusInf);
    shift[r] = arith::SelectOp::create(b, loc, none, f32(0.0), newMax[r]);
    alpha[r] = exp(arith::SubFOp::create(b, loc, oldMax[r], shift[r]));
  }
  SmallVector<Value> p(16);
  for (int64_t i = 0; i < 16; ++i) {
    int r = i % 4 / 2;
    p[i] = exp(arith::SubFOp::create(b, loc, s[i], shift[r]));
    rowSum[r] = fadd(rowSum[r], p[i]);
  }
  Value newSum[2];
  for (int r = 0; r < 2; ++r)
    newSum[r] = fadd(
        fmul(oldSum[r], alpha[r]),
        acrossQuad(rowSum[r], [&](Value x, Value y) { return fadd(x, y); }));
  for (int64_t i = 0; i < kAcc; ++i)
    acc[i] = fmul(acc[i], alpha[i % 4 / 2]);

  // P as the A fragments of two k16 steps: tiles 2k and 2k + 1.
  SmallVector<Value> packed;
  for (int64_t i = 0; i < 16; i += 2)
    packed.push_back(packBf16Pair(b, loc, toBf16(p[i]), toBf16(p[i + 1])));

  Value sV = shared[2];
  stageKeyRows(sV, kSlice, op.getValues(), 1, vectors[2], k0, d0);
  gpu::BarrierOp::create(b, loc);
  for (int64_t step = 0; step < 2; ++step) {
    ArrayRef<Value> fragA = ArrayRef<Value>(packed).slice(4 * step, 4);
    for (int64_t j = 0; j < kSlice / 8; j += 2) {
      // sV is [key][column]: k (the key) runs down a column, so the
      // fragments come from transposed matrices.
      SmallVector<Value, 4> fragB =
          loadMatrices(sV, add(lanes.pairCol, add(lanes.lane8, c(16 * step))),
                       add(c(8 * j), lanes.half8), /*transpose=*/true);
      for (int64_t h = 0; h < 2; ++h)
        mmaBf16(b, loc, fragA, ArrayRef<Value>(fragB).slice(2 * h, 2),
                MutableArrayRef<Value>(acc).slice(4 * (j + h), 4));
    }
  }
  acc.append({newMax[0], newMax[1], newSum[0], newSum[1]});
  return acc;
}

void FlashKernelBuilder::build(gpu::LaunchOp launch) {
  tid = launch.getThreadIds().x;
  gpu::KernelDim3 block = launch.getBlockIds();
  Value lane = rem(tid, 32);
  warpRow = mul(div(tid, 32), c(16));
  g = div(lane, 4);
  t = rem(lane, 4);
  lanes = matrixLanes(lane);
  q0 = mul(div(block.x, slices()), c(kTileRows));
  d0 = mul(rem(block.x, slices()), c(kSlice));
  head = block.y;
  batch = block.z;
  kvHead = div(head, groups);
  shared = launch.getWorkgroupAttributions();
  Value D = c(headDim);
  qa = add(q0, add(warpRow, g));
  qb = add(qa, c(8));
  minusInf = f32(-std::numeric_limits<double>::infinity());

  if (residentQueries()) {
    stageQueries(shared[0], c(0), queryTileWidth(headDim));
    gpu::BarrierOp::create(b, loc);
  }
  SmallVector<Value> init(kAcc, f32(0.0));
  init.append({minusInf, minusInf, f32(0.0), f32(0.0)});
  auto keys = scf::ForOp::create(b, loc, c(0), S, c(kTileKeys), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(keys.getBody());
    Value k0 = keys.getInductionVar();
    ValueRange state = keys.getRegionIterArgs();
    // A tile that no query of the block sees (keys outside every row's
    // sliding window, padding) changes nothing: the block votes on it with
    // bar.red.or, so the branch is uniform and the barriers inside stay
    // aligned. The mask values read for the vote feed the scores too:
    // reading them again would keep their 16 addresses live across the
    // score product.
    Value sees = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
    SmallVector<Value> mask;
    for (int64_t i = 0; i < 16; ++i) {
      mask.push_back(maskAt(rowOf(i), add(k0, columnOf(i))));
      sees = arith::OrIOp::create(
          b, loc, sees,
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, mask[i],
                                minusInf));
    }
    auto vote = NVVM::BarrierOp::create(
        b, loc, b.getI32Type(), Value(), Value(),
        NVVM::BarrierReductionAttr::get(b.getContext(),
                                        NVVM::BarrierReduction::OR),
        arith::ExtUIOp::create(b, loc, b.getI32Type(), sees));
    Value seen = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne, vote->getResult(0),
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)));
    auto tile = scf::IfOp::create(b, loc, TypeRange(state), seen, true);
    b.setInsertionPointToStart(&tile.getThenRegion().front());
    scf::YieldOp::create(b, loc, keyTile(k0, state, mask));
    b.setInsertionPointToStart(&tile.getElseRegion().front());
    scf::YieldOp::create(b, loc, state);
    b.setInsertionPointAfter(tile);
    scf::YieldOp::create(b, loc, tile.getResults());
  }

  ValueRange result = keys.getResults();
  Value sum[2] = {result[kAcc + 2], result[kAcc + 3]};
  for (int64_t i = 0; i < kAcc; ++i) {
    Value row = rowOf(i);
    Value col = add(d0, columnOf(i));
    auto store = scf::IfOp::create(b, loc, both(below(row, T), below(col, D)));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    Value out =
        toBf16(arith::DivFOp::create(b, loc, result[i], sum[i % 4 / 2]));
    memref::StoreOp::create(b, loc, out, op.getInit(),
                            ValueRange{batch, row, head, col});
  }
}

} // namespace

int64_t flashAttentionSlices(int64_t headDim) {
  return llvm::divideCeil(headDim, kSlice);
}

SmallVector<Type, 3> flashAttentionSharedTiles(MLIRContext *ctx,
                                               int64_t headDim) {
  return {sharedBf16Tile(ctx, kTileRows, queryTileWidth(headDim)),
          sharedBf16Tile(ctx, kTileKeys, kDepthStep),
          sharedBf16Tile(ctx, kTileKeys, kSlice)};
}

void buildFlashAttention(OpBuilder &b, Location loc, gpu::LaunchOp launch,
                         dg::MaskedAttentionOp op, Value queryCount,
                         Value keyCount, std::array<bool, 3> vectorRows) {
  FlashKernelBuilder(b, loc, op, queryCount, keyCount, vectorRows)
      .build(launch);
}

} // namespace dgc
