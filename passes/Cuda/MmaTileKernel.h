//===- MmaTileKernel.h - One tile of C on tensor cores ----------*- C++ -*-===//
//
// The body of a tensor-core GEMM kernel, shared by the contractions and the
// grouped expert GEMMs: a block of warps owns one tile of C, stages slices
// of A and B in shared memory and multiplies them with bf16 mma.sync
// m16n8k16, accumulating in f32 onto what C held. The caller says how rows,
// columns and depth map onto its operands, so layouts, batches and expert
// indirection stay outside this file.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_CUDA_MMATILEKERNEL_H
#define DGC_PASSES_CUDA_MMATILEKERNEL_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

#include <functional>
#include <optional>
#include <utility>

namespace dgc {

/// The block's tile: warpsM x warpsN warps, each owning fragsM x fragsN
/// m16n8 accumulators of C (16 fragsM rows x 8 fragsN columns; fragsN even,
/// as one ldmatrix.x4 gives B for two n8 tiles), and tileK of K per stage.
struct MmaTileShape {
  int64_t warpsM = 4, warpsN = 1, tileK = 32;
  int64_t fragsM = 1, fragsN = 4;
  /// Stage B with k fastest, the order of weights stored [N, K], so that
  /// neighbouring threads read neighbouring addresses.
  bool bKFastest = true;
  /// Operands whose rows are runs of 16-byte aligned vectors of 8 (see
  /// hasAlignedRowsOfEight; A's rows run along k, B's along k or, staged
  /// [k][n], along n) are copied to shared memory with cp.async, `stages -
  /// 1` tiles of K ahead of the one the warps multiply, into a ring of
  /// `stages` shared buffers: the weights stream while the tensor cores
  /// work. The other operand is staged in step, as without pipelining.
  bool asyncA = false, asyncB = false;
  int64_t stages = 1;

  int64_t warpRows() const { return 16 * fragsM; }
  int64_t warpCols() const { return 8 * fragsN; }
  int64_t tileM() const { return warpRows() * warpsM; }
  int64_t tileN() const { return warpCols() * warpsN; }
  int64_t threads() const { return 32 * warpsM * warpsN; }
  /// Where a lane's four accumulators of m16n8 tile (i, j) of its warp's
  /// start among its fragsM * fragsN * 4.
  int64_t accumulator(int64_t i, int64_t j) const {
    return 4 * (i * fragsN + j);
  }
  /// Turns on the cp.async pipeline for the operands that allow it: A's
  /// rows run along k, B's along k or n (the caller checks their
  /// indexing). The ring gets `maxStages` buffers, or as many as fit in the
  /// 48 KB of static shared memory (at least 2).
  void pipeline(bool aRowsOfEight, bool bRowsOfEight,
                int64_t maxStages = kPipelineStages) {
    asyncA = aRowsOfEight;
    asyncB = bRowsOfEight;
    stages = 1;
    if (!asyncA && !asyncB)
      return;
    stages = maxStages;
    while (stages > 2 && sharedBytes() > kStaticShared)
      --stages;
  }
  /// Three buffers by default: a 16 x 128 expert tile then needs 35 KB of
  /// shared memory, a 128 x 64 tile 45 KB.
  static constexpr int64_t kPipelineStages = 3;
  /// The shared memory a kernel may declare statically.
  static constexpr int64_t kStaticShared = 48 * 1024;
  /// Bytes of the shared tiles.
  int64_t sharedBytes() const;
  /// Rows and columns of the shared tiles of A and B, before padding.
  std::pair<int64_t, int64_t> sharedAExtent() const;
  std::pair<int64_t, int64_t> sharedBExtent() const;
  /// The shared-memory tiles, in the order the launch must attribute them.
  mlir::MemRefType sharedA(mlir::MLIRContext *ctx) const;
  mlir::MemRefType sharedB(mlir::MLIRContext *ctx) const;
};

/// Where one element of an operand lives.
struct MmaAccess {
  mlir::Value memref;
  llvm::SmallVector<mlir::Value> indices;
};

/// The problem, as rows x cols x depth (M x N x K), and where A[row, k],
/// B[k, col] and C[row, col] are; the callbacks build index arithmetic at
/// the builder's insertion point.
struct MmaProblem {
  mlir::Value rows, cols, depth;
  std::function<MmaAccess(mlir::OpBuilder &, mlir::Value row, mlir::Value k)> a;
  std::function<MmaAccess(mlir::OpBuilder &, mlir::Value k, mlir::Value col)> b;
  std::function<MmaAccess(mlir::OpBuilder &, mlir::Value row, mlir::Value col)>
      c;
  /// What C holds before the product when that is a known constant (a fill
  /// folded in): the accumulators start from it and C is not read.
  std::optional<double> initialC = std::nullopt;
  /// Stores the finished accumulator `acc` of C[row, col]; when unset, it
  /// is stored to problem.c. Lets a caller fuse an elementwise epilogue.
  /// Unused with a row fold, which stores instead.
  std::function<void(mlir::OpBuilder &, mlir::Value row, mlir::Value col,
                     mlir::Value acc)>
      storeC = nullptr;
  /// A reduction of each row of the block's tile, which then also does
  /// the stores: each lane works out `value` of each of its finished
  /// accumulators once (the epilogue's value, say), stores it with
  /// `storeValue` where the element is inside the problem, and folds it
  /// with `add` into its row's state, which starts as `identity`; the four
  /// lanes holding a row merge theirs with `combine`, and one of them
  /// passes the tile's partial to `store` with the column tile's index.
  /// `value` and `add` may read other buffers at (row, col): past the
  /// problem's edge they get the last row or column instead, and what they
  /// make there is dropped. Needs warps that span the tile's columns.
  struct RowFold {
    llvm::SmallVector<mlir::TypedAttr> identity;
    std::function<mlir::Value(mlir::OpBuilder &, mlir::Value row,
                              mlir::Value col, mlir::Value acc)>
        value;
    std::function<void(mlir::OpBuilder &, mlir::Value row, mlir::Value col,
                       mlir::Value value)>
        storeValue;
    std::function<llvm::SmallVector<mlir::Value>(
        mlir::OpBuilder &, mlir::ValueRange state, mlir::Value row,
        mlir::Value col, mlir::Value acc, mlir::Value value)>
        add;
    std::function<llvm::SmallVector<mlir::Value>(
        mlir::OpBuilder &, mlir::ValueRange x, mlir::ValueRange y)>
        combine;
    std::function<void(mlir::OpBuilder &, mlir::Value row,
                       mlir::Value columnTile, mlir::ValueRange state)>
        store;
  };
  std::optional<RowFold> rowFold = std::nullopt;
};

/// Index and predicate arithmetic at the builder's insertion point, for the
/// kernel builders.
class KernelArith {
protected:
  KernelArith(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  mlir::Value c(int64_t v) {
    return mlir::arith::ConstantIndexOp::create(b, loc, v);
  }
  mlir::Value add(mlir::Value x, mlir::Value y) {
    return mlir::arith::AddIOp::create(b, loc, x, y);
  }
  mlir::Value mul(mlir::Value x, mlir::Value y) {
    return mlir::arith::MulIOp::create(b, loc, x, y);
  }
  mlir::Value div(mlir::Value x, int64_t y) {
    return mlir::arith::DivUIOp::create(b, loc, x, c(y));
  }
  mlir::Value rem(mlir::Value x, int64_t y) {
    return mlir::arith::RemUIOp::create(b, loc, x, c(y));
  }
  mlir::Value below(mlir::Value x, mlir::Value bound) {
    return mlir::arith::CmpIOp::create(b, loc, mlir::arith::CmpIPredicate::ult,
                                       x, bound);
  }
  mlir::Value both(mlir::Value x, mlir::Value y) {
    return mlir::arith::AndIOp::create(b, loc, x, y);
  }
  /// Where a lane points ldmatrix.x4: `lane16` and `half8` (lane % 16 and
  /// 8 * (lane / 16)) address A's rows 0-15 at k and k + 8 (registers
  /// a0..a3); B's four matrices (n, k) = (0, 0), (0, 8), (8, 0), (8, 8)
  /// (b0, b1 of two n8 tiles) take lane l's row l % 8 of matrix l / 8 at
  /// n + `pairRow`, k + `pairCol` (at k + `pairCol` + lane % 8, n + `half8`
  /// when B is stored [k][n] and read transposed).
  struct MatrixLanes {
    mlir::Value lane8, lane16, half8, pairRow, pairCol;
  };
  MatrixLanes matrixLanes(mlir::Value lane) {
    MatrixLanes l;
    l.lane8 = rem(lane, 8);
    l.lane16 = rem(lane, 16);
    l.half8 = mul(div(lane, 16), c(8));
    l.pairRow = add(l.half8, l.lane8);
    l.pairCol = mul(rem(div(lane, 8), 2), c(8));
    return l;
  }
  /// The four 32-bit registers one ldmatrix.x4 gives this lane from a
  /// shared bf16 tile, whose lane l addresses the 8 elements at [row, col]
  /// (row l % 8 of matrix l / 8; .trans when `transpose`). Register i is
  /// matrix i's pair for this lane: (g, 2t..2t+1) of it, or (2t..2t+1, g)
  /// transposed, with g = lane / 4 and t = lane % 4: mma.sync's fragment
  /// layout.
  llvm::SmallVector<mlir::Value, 4> loadMatrices(mlir::Value tile,
                                                 mlir::Value row,
                                                 mlir::Value col,
                                                 bool transpose);

  mlir::OpBuilder &b;
  mlir::Location loc;
};

/// The element at `at` when `inBounds`, else zero of its element type.
mlir::Value loadOrZero(mlir::OpBuilder &b, mlir::Location loc,
                       const MmaAccess &at, mlir::Value inBounds);

/// Starts a 16-byte cp.async of the 8 bf16 at `from` (16-byte aligned) to
/// `tile`[row, col] in shared memory; when not `inBounds` it reads nothing
/// (from the operand's first element) and writes zeros.
void copyEightOrZerosAsync(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value tile, mlir::Value row, mlir::Value col,
                           MmaAccess from, mlir::Value inBounds);

/// Closes this thread's cp.async copies into a group and waits until at
/// most `pending` groups are in flight (the latest ones); without `group`,
/// the copies issued since the last group form a new one.
void waitForCopies(mlir::OpBuilder &b, mlir::Location loc, int32_t pending,
                   mlir::Value group = {});

/// Which buffers hasAlignedRowsOfEight may trust to start 16-byte aligned.
enum class AlignedBuffers { Weights, WeightsAndAllocations };

/// Whether every 8 consecutive bf16 of a row of `memref` that start at a
/// multiple of 8 form one 16-byte aligned vector: an identity layout, a
/// static last dimension that is a multiple of 8, and a start that is
/// 16-byte aligned: a weight viewed from the arena (a 64-byte aligned
/// argument) at a constant byte offset that is a multiple of 16, or (when
/// `trusted` says so) a fresh allocation or a KV cache's pool.
bool hasAlignedRowsOfEight(mlir::Value memref, AlignedBuffers trusted);

/// Two bf16 as one 32-bit fragment register, `lo` in the low half.
mlir::Value packBf16Pair(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lo,
                         mlir::Value hi);

/// One warp-wide bf16 mma.sync m16n8k16 accumulating in f32: C = A B + C,
/// from A's four registers and B's two; `fragC`'s four values are replaced
/// by the result's.
void mmaBf16(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange fragA,
             mlir::ValueRange fragB, llvm::MutableArrayRef<mlir::Value> fragC);

/// A bf16 tile of rows x cols in shared memory, each row padded by 8
/// elements so that the eight rows a fragment load reads fall in different
/// banks.
mlir::MemRefType sharedBf16Tile(mlir::MLIRContext *ctx, int64_t rows,
                                int64_t cols);

/// Builds, at the insertion point inside `launch`, the code with which
/// block (x, y) computes C[x * tileM.., y * tileN..] += A B (or
/// C = initialC + A B, then storeC). The launch has
/// shape.threads() threads and the workgroup attributions sharedA, sharedB.
void buildMmaTile(mlir::OpBuilder &b, mlir::Location loc,
                  mlir::gpu::LaunchOp launch, const MmaTileShape &shape,
                  const MmaProblem &problem);

} // namespace dgc

#endif // DGC_PASSES_CUDA_MMATILEKERNEL_H
