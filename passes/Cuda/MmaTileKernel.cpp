//===- MmaTileKernel.cpp - One tile of C on tensor cores ------------------===//
//
// Warp w sits at (w / warpsN, w % warpsN) of the block's warp grid. Per
// stage of K, all threads copy A[tileM x tileK] and B[tileK x tileN] into
// shared memory (zero outside the operands), consecutive threads taking
// consecutive elements so global reads coalesce; then each warp runs
// tileK / 16 rounds of fragsM x fragsN m16n8k16 mma.sync, one per 16 of its
// rows and 8 of its columns, loading its fragments with ldmatrix.x4: one
// for A's four registers per 16 rows, one for B's two registers of two n8
// tiles (.trans when B is staged [k][n]).
//
// Fragments follow the PTX ISA's layout for mma.m16n8k16 with .bf16, with
// g = lane / 4 and t = lane % 4:
//   A (row major): {A[g][2t..2t+1]}, {A[g+8][2t..]}, {A[g][2t+8..]},
//                  {A[g+8][2t+8..]}, two bf16 per 32-bit register;
//   B (column major): {B[2t..2t+1][g]}, {B[2t+8..2t+9][g]};
//   C/D: C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1].
// Shared rows are padded by 8 elements so that the eight g of a fragment
// load fall in different banks.
//
// Pipelined (shape.stages > 1): the operands made of aligned rows (the
// weights, usually; B's rows may run along k or n) are copied with 16-byte
// cp.async into a ring of
// `stages` buffers. Before the K loop the block starts the copies of tiles
// 0 .. stages - 2, one group each; iteration i starts tile i + stages - 1
// into the slot iteration i - 1 used (free after its closing barrier),
// stages the other operand as before, waits until at most stages - 1 groups
// are pending (tile i landed) and passes the barrier. So while the warps
// multiply tile i, tiles i + 1 .. i + stages - 1 are in flight.
//
//===----------------------------------------------------------------------===//

#include "passes/Cuda/MmaTileKernel.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;

namespace dgc {
namespace {

class TileBuilder : KernelArith {
public:
  TileBuilder(OpBuilder &b, Location loc, const MmaTileShape &shape,
              const MmaProblem &problem)
      : KernelArith(b, loc), shape(shape), problem(problem) {}

  void build(gpu::LaunchOp launch);

private:
  Value guardedLoad(const MmaAccess &at, Value inBounds) {
    return loadOrZero(b, loc, at, inBounds);
  }
  /// Copies `count` elements into shared memory in a loop (unrolled, the
  /// addresses of every load stay live across the K loop and the kernel
  /// runs out of registers); element s * threads + tid goes to this thread.
  void staged(int64_t count, function_ref<void(Value)> body) {
    assert(count % shape.threads() == 0 && "a tile the threads split evenly");
    int64_t perThread = count / shape.threads();
    auto stage = scf::ForOp::create(b, loc, c(0), c(perThread), c(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(stage.getBody());
    body(add(mul(stage.getInductionVar(), c(shape.threads())), tid));
  }

  void stageB(Value k0, Value n0, Value sB);
  /// problem.rowFold over the finished accumulators (`loop`'s results).
  void foldRows(const MmaProblem::RowFold &fold, scf::ForOp loop,
                Value columnTile);
  /// The row and column of accumulator `e` of this lane's m16n8 tile (i, j)
  /// (mma.sync's layout): rows 16i + g and 16i + g + 8, columns 8j + 2t and
  /// 8j + 2t + 1, with g = lane / 4 and t = lane % 4.
  std::pair<Value, Value> position(int64_t e, int64_t i, int64_t j) {
    return {add(laneRow, c(16 * i + (e < 2 ? 0 : 8))),
            add(laneCol, c(8 * j + e % 2))};
  }
  /// Starts the cp.async copies of the tile of K at k0 into ring slot `slot`
  /// of the asynchronous operands' buffers, as one group; returns its token.
  Value copyTileAsync(Value k0, Value slot, Value m0, Value n0, Value sA,
                      Value sB);
  /// Copies rows [first, first + rows) (bounded by `bound`) x [k0, k0 +
  /// tileK) of an operand, `at(row, k)`, to rows [slotRow, slotRow + rows)
  /// of `tile` with 16-byte cp.async; vectors outside the operand are
  /// zero-filled without reading it. With `run`, a row is `run->width`
  /// long from k0 and ends at `run->bound` (B's rows of n, staged [k][n]),
  /// not tileK from k0 within K.
  struct RowRun {
    int64_t width;
    Value bound;
  };
  void copyRowsAsync(Value tile, Value slotRow, int64_t rows, Value first,
                     Value bound, Value k0,
                     function_ref<MmaAccess(Value row, Value k)> at,
                     std::optional<RowRun> run = std::nullopt);

  const MmaTileShape &shape;
  const MmaProblem &problem;
  Value tid;
  /// This lane's first row and column of C, and t (its place in its quad).
  Value laneRow, laneCol, quadLane;
};

void TileBuilder::build(gpu::LaunchOp launch) {
  tid = launch.getThreadIds().x;
  gpu::KernelDim3 block = launch.getBlockIds();
  Value warp = div(tid, 32), lane = rem(tid, 32);
  MatrixLanes lanes = matrixLanes(lane);
  Value warpRow = mul(div(warp, shape.warpsN), c(shape.warpRows()));
  Value warpCol = mul(rem(warp, shape.warpsN), c(shape.warpCols()));
  Value g = div(lane, 4), t = rem(lane, 4);
  Value m0 = mul(block.x, c(shape.tileM())),
        n0 = mul(block.y, c(shape.tileN()));
  Value M = problem.rows, N = problem.cols, K = problem.depth;
  Value sA = launch.getWorkgroupAttributions()[0];
  Value sB = launch.getWorkgroupAttributions()[1];

  // This lane's accumulators (position, shape.accumulator).
  int64_t fragsM = shape.fragsM, fragsN = shape.fragsN;
  laneRow = add(m0, add(warpRow, g));
  laneCol = add(add(n0, warpCol), mul(t, c(2)));
  quadLane = t;
  SmallVector<Value> acc;
  for (int64_t i = 0; i < fragsM; ++i)
    for (int64_t j = 0; j < fragsN; ++j)
      for (int64_t e = 0; e < 4; ++e) {
        auto [row, col] = position(e, i, j);
        acc.push_back(problem.initialC
                          ? arith::ConstantOp::create(
                                b, loc, b.getF32FloatAttr(*problem.initialC))
                                .getResult()
                          : guardedLoad(problem.c(b, row, col),
                                        both(below(row, M), below(col, N))));
      }

  // With the pipeline, the copies of the first stages - 1 tiles start
  // before the loop, one cp.async group per tile.
  int64_t tileK = shape.tileK, stages = shape.stages;
  for (int64_t s = 0; s + 1 < stages; ++s)
    copyTileAsync(c(s * tileK), c(s), m0, n0, sA, sB);
  auto loop = scf::ForOp::create(b, loc, c(0), K, c(tileK), acc);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    // The ring slot of this tile; the slot of the tile stages - 1 ahead is
    // the one the block finished with in the previous iteration.
    Value slot = c(0), group;
    if (stages > 1) {
      Value tileIndex = div(k0, tileK);
      slot = rem(tileIndex, stages);
      group = copyTileAsync(add(k0, c((stages - 1) * tileK)),
                            rem(add(tileIndex, c(stages - 1)), stages), m0, n0,
                            sA, sB);
    }
    if (!shape.asyncA)
      staged(shape.tileM() * tileK, [&](Value idx) {
        Value r = div(idx, tileK), col = rem(idx, tileK);
        Value gm = add(m0, r), gk = add(k0, col);
        Value a =
            guardedLoad(problem.a(b, gm, gk), both(below(gm, M), below(gk, K)));
        memref::StoreOp::create(b, loc, a, sA, ValueRange{r, col});
      });
    if (!shape.asyncB)
      stageB(k0, n0, sB);
    // This thread's copies of this tile are done once at most stages - 1
    // newer groups are pending; the barrier then publishes everyone's.
    if (stages > 1)
      waitForCopies(b, loc, stages - 1, group);
    gpu::BarrierOp::create(b, loc);

    Value aRow = shape.asyncA ? mul(slot, c(shape.tileM())) : c(0);
    // A ring slot of B is tileN rows ([n][k]) or tileK rows ([k][n]).
    Value bRow = shape.asyncB
                     ? mul(slot, c(shape.bKFastest ? shape.tileN() : tileK))
                     : c(0);
    // ldmatrix.x4 addresses (MatrixLanes): B's k runs along a shared row
    // when it is fastest, else down a column.
    Value aAt = add(aRow, add(warpRow, lanes.lane16));
    Value bN = warpCol, bK;
    if (shape.bKFastest) {
      bN = add(add(bRow, bN), lanes.pairRow);
      bK = lanes.pairCol;
    } else {
      bN = add(bN, lanes.half8);
      bK = add(bRow, add(lanes.pairCol, lanes.lane8));
    }
    SmallVector<Value> fragC(loop.getRegionIterArgs());
    for (int64_t kk = 0; kk < tileK; kk += 16) {
      SmallVector<SmallVector<Value, 4>> fragA;
      for (int64_t i = 0; i < fragsM; ++i)
        fragA.push_back(loadMatrices(sA, add(aAt, c(16 * i)),
                                     add(lanes.half8, c(kk)), false));
      for (int64_t j = 0; j < fragsN; j += 2) {
        Value n = add(bN, c(8 * j)), k = add(bK, c(kk));
        // Stored [k][n], B's transposing load gives the same fragments.
        SmallVector<Value, 4> fragB = shape.bKFastest
                                          ? loadMatrices(sB, n, k, false)
                                          : loadMatrices(sB, k, n, true);
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t i = 0; i < fragsM; ++i)
            mmaBf16(b, loc, fragA[i], ArrayRef<Value>(fragB).slice(2 * h, 2),
                    MutableArrayRef<Value>(fragC).slice(
                        shape.accumulator(i, j + h), 4));
      }
    }
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, fragC);
  }
  // The copies past the end (zero-fill) finish before the block does.
  if (stages > 1)
    waitForCopies(b, loc, 0);

  if (problem.rowFold) {
    foldRows(*problem.rowFold, loop, block.y);
    return;
  }
  for (int64_t i = 0; i < fragsM; ++i)
    for (int64_t j = 0; j < fragsN; ++j)
      for (int64_t e = 0; e < 4; ++e) {
        auto [row, col] = position(e, i, j);
        auto store =
            scf::IfOp::create(b, loc, both(below(row, M), below(col, N)));
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&store.getThenRegion().front());
        Value result = loop.getResult(shape.accumulator(i, j) + e);
        if (problem.storeC) {
          problem.storeC(b, row, col, result);
          continue;
        }
        MmaAccess at = problem.c(b, row, col);
        memref::StoreOp::create(b, loc, result, at.memref, at.indices);
      }
}

void TileBuilder::foldRows(const MmaProblem::RowFold &fold, scf::ForOp loop,
                           Value columnTile) {
  assert(shape.warpsN == 1 && "each warp spans the tile's columns");
  Value M = problem.rows, N = problem.cols;
  // Columns past N need a check unless the tiles divide N.
  std::optional<int64_t> staticN = getConstantIntValue(N);
  bool ragged = !staticN || *staticN % shape.tileN() != 0;
  auto within = [&](Value x, Value inside, Value bound) -> Value {
    return arith::SelectOp::create(b, loc, inside, x,
                                   arith::SubIOp::create(b, loc, bound, c(1)));
  };
  // Accumulators 0, 1 of each m16n8 tile hold one row, 2, 3 the row 8
  // below: each row's values are fragsN * 2 of them.
  for (int64_t i = 0; i < shape.fragsM; ++i)
    for (int64_t half = 0; half < 2; ++half) {
      Value row = position(2 * half, i, 0).first;
      Value rowInside = below(row, M);
      Value safeRow = within(row, rowInside, M);
      SmallVector<Value> state =
          llvm::map_to_vector(fold.identity, [&](TypedAttr value) -> Value {
            return arith::ConstantOp::create(b, loc, value);
          });
      // The row's values, stored once all are made: a store between them
      // would make every element load the row's inputs (a temperature, a
      // seed) again, as they might alias what was stored.
      SmallVector<std::tuple<Value, Value, Value>> toStore;
      for (int64_t j = 0; j < shape.fragsN; ++j)
        for (int64_t e = 2 * half; e < 2 * half + 2; ++e) {
          Value col = position(e, i, j).second;
          Value colInside = ragged ? below(col, N) : Value();
          Value safeCol = ragged ? within(col, colInside, N) : col;
          Value acc = loop.getResult(shape.accumulator(i, j) + e);
          Value value = fold.value(b, safeRow, safeCol, acc);
          toStore.push_back({col, colInside, value});
          SmallVector<Value> next =
              fold.add(b, state, safeRow, safeCol, acc, value);
          if (ragged) {
            for (size_t v = 0; v < state.size(); ++v)
              state[v] =
                  arith::SelectOp::create(b, loc, colInside, next[v], state[v]);
          } else {
            state = next;
          }
        }
      for (auto [col, colInside, value] : toStore) {
        auto store = scf::IfOp::create(
            b, loc, colInside ? both(rowInside, colInside) : rowInside);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&store.getThenRegion().front());
        fold.storeValue(b, row, col, value);
      }
      // The quad's four lanes hold the row's other columns.
      for (int32_t offset : {1, 2}) {
        Value width =
            arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(32));
        Value by =
            arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(offset));
        SmallVector<Value> other = llvm::map_to_vector(state, [&](Value v) {
          // A shuffle moves 32 bits: a narrower float goes as f32, exactly.
          Type type = v.getType();
          bool narrow =
              isa<FloatType>(type) && type.getIntOrFloatBitWidth() < 32;
          if (narrow)
            v = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
          Value moved = gpu::ShuffleOp::create(b, loc, v, by, width,
                                               gpu::ShuffleMode::XOR)
                            .getShuffleResult();
          if (narrow)
            moved = arith::TruncFOp::create(b, loc, type, moved);
          return moved;
        });
        state = fold.combine(b, state, other);
      }
      auto store = scf::IfOp::create(
          b, loc,
          both(rowInside,
               arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, quadLane,
                                     c(0))));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      fold.store(b, row, columnTile, state);
    }
}

Value TileBuilder::copyTileAsync(Value k0, Value slot, Value m0, Value n0,
                                 Value sA, Value sB) {
  if (shape.asyncA)
    copyRowsAsync(sA, mul(slot, c(shape.tileM())), shape.tileM(), m0,
                  problem.rows, k0,
                  [&](Value row, Value k) { return problem.a(b, row, k); });
  if (shape.asyncB && shape.bKFastest)
    copyRowsAsync(sB, mul(slot, c(shape.tileN())), shape.tileN(), n0,
                  problem.cols, k0,
                  [&](Value col, Value k) { return problem.b(b, k, col); });
  else if (shape.asyncB)
    copyRowsAsync(
        sB, mul(slot, c(shape.tileK)), shape.tileK, k0, problem.depth, n0,
        [&](Value k, Value col) { return problem.b(b, k, col); },
        RowRun{shape.tileN(), problem.cols});
  return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, ValueRange());
}

void TileBuilder::copyRowsAsync(Value tile, Value slotRow, int64_t rows,
                                Value first, Value bound, Value k0,
                                function_ref<MmaAccess(Value, Value)> at,
                                std::optional<RowRun> run) {
  int64_t width = run ? run->width : shape.tileK;
  Value along = run ? run->bound : problem.depth;
  int64_t perRow = width / 8, count = rows * perRow;
  int64_t threads = shape.threads();
  auto copy = [&](Value idx) {
    Value kr = mul(rem(idx, perRow), c(8)), r = div(idx, perRow);
    Value gk = add(k0, kr), gr = add(first, r);
    copyEightOrZerosAsync(b, loc, tile, add(slotRow, r), kr, at(gr, gk),
                          both(below(gk, along), below(gr, bound)));
  };
  if (count < threads) {
    // Fewer vectors than threads (a 16-row tile of A): the first copy.
    auto some = scf::IfOp::create(b, loc, below(tid, c(count)));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&some.getThenRegion().front());
    copy(tid);
    return;
  }
  staged(count, copy);
}

/// B element by element; sB is [n][k] when k is fastest, else [k][n].
void TileBuilder::stageB(Value k0, Value n0, Value sB) {
  int64_t tileK = shape.tileK;
  Value K = problem.depth, N = problem.cols;
  staged(tileK * shape.tileN(), [&](Value idx) {
    Value kr = shape.bKFastest ? rem(idx, tileK) : div(idx, shape.tileN());
    Value nc = shape.bKFastest ? div(idx, tileK) : rem(idx, shape.tileN());
    Value bk = add(k0, kr), bn = add(n0, nc);
    Value v =
        guardedLoad(problem.b(b, bk, bn), both(below(bk, K), below(bn, N)));
    memref::StoreOp::create(b, loc, v, sB,
                            shape.bKFastest ? ValueRange{nc, kr}
                                            : ValueRange{kr, nc});
  });
}

} // namespace

SmallVector<Value, 4> KernelArith::loadMatrices(Value tile, Value row,
                                                Value col, bool transpose) {
  auto pairs = VectorType::get({4, 2}, b.getBF16Type());
  Value matrices = nvgpu::LdMatrixOp::create(
      b, loc, pairs, tile, ValueRange{row, col}, transpose, 4);
  auto word = VectorType::get({1}, b.getI32Type());
  SmallVector<Value, 4> regs;
  for (int64_t i = 0; i < 4; ++i) {
    Value pair = vector::ExtractOp::create(b, loc, matrices, i);
    regs.push_back(vector::ExtractOp::create(
        b, loc, vector::BitCastOp::create(b, loc, word, pair), 0));
  }
  return regs;
}

/// A KV cache's pool (an argument convert-dg-to-runtime-abi marks): the
/// runtime allocates it 16-byte aligned at least, and its rows are whole
/// heads.
static bool isKVCachePool(Value memref) {
  auto arg = dyn_cast<BlockArgument>(memref);
  auto func = arg ? dyn_cast<FunctionOpInterface>(arg.getOwner()->getParentOp())
                  : FunctionOpInterface();
  return func && arg.getOwner()->isEntryBlock() &&
         func.getArgAttr(arg.getArgNumber(), dg::kKVCacheAttrName);
}

bool hasAlignedRowsOfEight(Value memref, AlignedBuffers trusted) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t last = type.getRank() - 1;
  if (!type.getLayout().isIdentity() || !type.getElementType().isBF16() ||
      type.isDynamicDim(last) || type.getDimSize(last) % 8 != 0)
    return false;
  if (trusted == AlignedBuffers::WeightsAndAllocations &&
      (isa_and_nonnull<memref::AllocOp, gpu::AllocOp>(memref.getDefiningOp()) ||
       isKVCachePool(memref)))
    return true;
  auto view = memref.getDefiningOp<memref::ViewOp>();
  APInt shift;
  return view && isa<BlockArgument>(view.getSource()) &&
         matchPattern(view.getByteShift(), m_ConstantInt(&shift)) &&
         shift.urem(16) == 0;
}

Value loadOrZero(OpBuilder &b, Location loc, const MmaAccess &at,
                 Value inBounds) {
  Type type = cast<MemRefType>(at.memref.getType()).getElementType();
  auto branch = scf::IfOp::create(b, loc, type, inBounds, true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&branch.getThenRegion().front());
  scf::YieldOp::create(
      b, loc,
      memref::LoadOp::create(b, loc, at.memref, at.indices).getResult());
  b.setInsertionPointToStart(&branch.getElseRegion().front());
  scf::YieldOp::create(
      b, loc,
      arith::ConstantOp::create(b, loc, b.getZeroAttr(type)).getResult());
  return branch.getResult(0);
}

void copyEightOrZerosAsync(OpBuilder &b, Location loc, Value tile, Value row,
                           Value col, MmaAccess from, Value inBounds) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  for (Value &index : from.indices)
    index = arith::SelectOp::create(b, loc, inBounds, index, zero);
  Value elements = arith::SelectOp::create(
      b, loc, inBounds, arith::ConstantIndexOp::create(b, loc, 8), zero);
  nvgpu::DeviceAsyncCopyOp::create(
      b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tile,
      ValueRange{row, col}, from.memref, from.indices, b.getIndexAttr(8),
      elements, b.getUnitAttr());
}

void waitForCopies(OpBuilder &b, Location loc, int32_t pending, Value group) {
  if (!group)
    group = nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, ValueRange());
  nvgpu::DeviceAsyncWaitOp::create(b, loc, group, b.getI32IntegerAttr(pending));
}

Value packBf16Pair(OpBuilder &b, Location loc, Value lo, Value hi) {
  Type i16 = b.getI16Type(), i32 = b.getI32Type();
  auto widen = [&](Value v) {
    return arith::ExtUIOp::create(b, loc, i32,
                                  arith::BitcastOp::create(b, loc, i16, v));
  };
  Value high = arith::ShLIOp::create(
      b, loc, widen(hi),
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16)));
  return arith::OrIOp::create(b, loc, widen(lo), high);
}

void mmaBf16(OpBuilder &b, Location loc, ValueRange fragA, ValueRange fragB,
             MutableArrayRef<Value> fragC) {
  Type f32 = b.getF32Type();
  Type result =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  auto mma = NVVM::MmaOp::create(
      b, loc, result, fragA, fragB, fragC, {16, 8, 16}, std::nullopt,
      std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  for (int64_t e = 0; e < 4; ++e)
    fragC[e] = LLVM::ExtractValueOp::create(b, loc, mma, e);
}

/// Elements each shared row is padded by (see sharedBf16Tile).
static constexpr int64_t kSharedRowPad = 8;

MemRefType sharedBf16Tile(MLIRContext *ctx, int64_t rows, int64_t cols) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  return MemRefType::get({rows, cols + kSharedRowPad}, BFloat16Type::get(ctx),
                         AffineMap(), workgroup);
}

std::pair<int64_t, int64_t> MmaTileShape::sharedAExtent() const {
  return {(asyncA ? stages : 1) * tileM(), tileK};
}

std::pair<int64_t, int64_t> MmaTileShape::sharedBExtent() const {
  int64_t slots = asyncB ? stages : 1;
  if (bKFastest)
    return {slots * tileN(), tileK};
  return {slots * tileK, tileN()};
}

int64_t MmaTileShape::sharedBytes() const {
  int64_t elements = 0;
  for (auto [rows, cols] : {sharedAExtent(), sharedBExtent()})
    elements += rows * (cols + kSharedRowPad);
  return 2 * elements;
}

MemRefType MmaTileShape::sharedA(MLIRContext *ctx) const {
  auto [rows, cols] = sharedAExtent();
  return sharedBf16Tile(ctx, rows, cols);
}

MemRefType MmaTileShape::sharedB(MLIRContext *ctx) const {
  auto [rows, cols] = sharedBExtent();
  return sharedBf16Tile(ctx, rows, cols);
}

void buildMmaTile(OpBuilder &b, Location loc, gpu::LaunchOp launch,
                  const MmaTileShape &shape, const MmaProblem &problem) {
  TileBuilder(b, loc, shape, problem).build(launch);
}

} // namespace dgc
