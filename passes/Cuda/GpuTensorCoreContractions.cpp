//===- GpuTensorCoreContractions.cpp - bf16 contractions on tensor cores --===//
//
// The CUDA target's tensor-core kernels (see MmaTileKernel.h for the tile):
//  - bf16 contractions into f32 (linear layers, attention scores and
//    values): blocks of 4 warps stacked along M own 64 x 32 of C. Operands
//    are read through their indexing maps, so transposed weights, broadcast
//    batches and strided views need no special case. A constant fill of C
//    becomes the accumulators' start, and an elementwise reader of C alone
//    (rounding to bf16, softcap, scale) runs in the kernel's store
//    (ContractionEpilogue.h). Row reductions of C or of the epilogue's
//    output (the sampler's statistics and draw, and the maxima of groups
//    of columns its top-64 starts from) fold into the kernel per tile too
//    (StatisticsEpilogue.h); with all of C's readers folded, C is never
//    written.
//  - grouped expert projections (#dg.grouped_by_expert): one block per 16
//    rows of one expert, 4 warps side by side along N (16 x 128), each
//    block reading its expert's weights through the tile's expert index.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"
#include "passes/Cuda/MmaTileKernel.h"
#include "passes/Cuda/StatisticsEpilogue.h"
#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"
#include "passes/Utils/RowStatistics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUTENSORCORECONTRACTIONS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// The loops of a contraction this kernel handles. Several M loops (a
/// linear layer over [batch, tokens] rows) act as one, row-major.
struct Loops {
  SmallVector<int64_t> m;
  int64_t n, k;
  SmallVector<int64_t> batch;
};

std::optional<Loops> matchContraction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  auto elementOf = [](Value v) {
    return cast<MemRefType>(v.getType()).getElementType();
  };
  if (!elementOf(op.getDpsInputs()[0]).isBF16() ||
      !elementOf(op.getDpsInputs()[1]).isBF16() ||
      !elementOf(op.getDpsInits()[0]).isF32())
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->m.empty() || dims->m.size() > 3 ||
      dims->n.size() != 1 || dims->k.size() != 1 || dims->batch.size() > 2)
    return std::nullopt;
  Loops loops{{}, dims->n[0], dims->k[0], {}};
  for (unsigned m : dims->m)
    loops.m.push_back(m);
  for (unsigned b : dims->batch)
    loops.batch.push_back(b);
  return loops;
}

Value ceilDiv(OpBuilder &b, Location loc, Value x, int64_t d) {
  return arith::CeilDivUIOp::create(b, loc, x,
                                    arith::ConstantIndexOp::create(b, loc, d));
}

/// The grid: x walks the tiles of rows, y those of columns (the weights),
/// z the batch. Blocks start in x order, so the few row tiles that read
/// one tile of weights run side by side: it comes from HBM once and from
/// L2 for the others. With columns fastest, a wide output (the LM head's
/// 262144 columns, 8192 tiles) read each weight tile again per row tile,
/// thousands of blocks later, from HBM.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, Value rowTiles,
                           Value colTiles, Value gridZ,
                           const MmaTileShape &shape) {
  MLIRContext *ctx = b.getContext();
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  return gpu::LaunchOp::create(
      b, loc, rowTiles, colTiles, gridZ, c(shape.threads()), c(1), c(1),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      ValueRange(), TypeRange{shape.sharedA(ctx), shape.sharedB(ctx)});
}

/// Erases the allocation `buffer` once nothing but its release uses it: a
/// product the kernel's epilogue consumed without writing it.
void eraseUnusedBuffer(Value buffer) {
  Operation *alloc = buffer.getDefiningOp();
  if (!isa_and_nonnull<memref::AllocOp, gpu::AllocOp>(alloc))
    return;
  SmallVector<Operation *> releases;
  for (Operation *user : buffer.getUsers()) {
    auto asyncRelease = dyn_cast<gpu::DeallocOp>(user);
    if (!isa<memref::DeallocOp>(user) &&
        !(asyncRelease && (!asyncRelease.getAsyncToken() ||
                           asyncRelease.getAsyncDependencies().size() == 1)))
      return;
    releases.push_back(user);
  }
  for (Operation *release : releases) {
    // Whatever waited for the release waits for what it waited for.
    if (auto asyncRelease = dyn_cast<gpu::DeallocOp>(release))
      if (Value token = asyncRelease.getAsyncToken())
        token.replaceAllUsesWith(asyncRelease.getAsyncDependencies()[0]);
    release->erase();
  }
  alloc->erase();
}

/// A contraction: blocks of 4 warps stacked along M, a 64 x 32 tile each
/// (16 x 32 a warp), or for wide outputs (the LM head) 128 x 64 (32 x 64 a
/// warp): twice the flops per byte staged from L2, where every tile of
/// rows reads the whole weight, while narrower outputs keep enough blocks
/// to span every SM at the canvas's 256 rows. Outputs of `wideColumns` or
/// more take the wide tile (by default 16384: 256 or more column tiles of
/// 64, about two blocks per SM of an H100 or H200 from a single tile of
/// rows). Batch loops become the grid's z.
void lowerContraction(linalg::GenericOp op, const Loops &loops,
                      int64_t wideColumns, int64_t stages) {
  std::optional<double> initialC = foldConstantInit(op);
  // With an epilogue, the kernel replaces both ops where the second was.
  Value c = op.getDpsInits()[0];
  linalg::GenericOp epilogue = findEpilogue(op);
  SmallVector<RowReduction> reductions;
  // A block's partial row reduction covers its columns: C's last dimension.
  AffineMap cMap = op.getIndexingMapsArray()[2];
  bool columnsLast = cMap.getDimPosition(cMap.getNumResults() - 1) == loops.n;
  if (!epilogue && columnsLast) {
    // C may also be read by row reductions, which then fold in too.
    for (Operation *user : c.getUsers())
      if (auto generic = dyn_cast<linalg::GenericOp>(user);
          generic && (dg::RowStatisticsAttr::of(generic) ||
                      dg::BestOfRowsAttr::of(generic))) {
        epilogue = findEpilogue(op, generic);
        if (epilogue && epilogue.getDpsInits()[0] != c)
          reductions = findRowReductions(c, epilogue, {op, epilogue},
                                         /*all=*/true);
        if (reductions.empty())
          epilogue = {};
        break;
      }
  }
  // And the readers of what the epilogue writes, in its element type.
  Value written = epilogue ? epilogue.getDpsInits()[0] : Value();
  bool foldsWritten = epilogue && written != c && columnsLast &&
                      cast<MemRefType>(written.getType()).getRank() ==
                          cast<MemRefType>(c.getType()).getRank();
  if (foldsWritten)
    llvm::append_range(reductions,
                       findRowReductions(written, epilogue, {epilogue},
                                         /*all=*/false));
  OpBuilder b(epilogue ? epilogue.getOperation() : op.getOperation());
  Location loc = op.getLoc();
  SmallVector<Value> sizes = loopSizes(b, loc, op);
  // B staged k-fastest when k is its innermost dimension (weights [N, K]).
  AffineMap bMap = op.getIndexingMapsArray()[1];
  MmaTileShape shape;
  if (int64_t cols = op.getStaticLoopRanges()[loops.n];
      !ShapedType::isDynamic(cols) && cols >= wideColumns) {
    shape.fragsM = 2;
    shape.fragsN = 8;
  }
  unsigned bInner = bMap.getDimPosition(bMap.getNumResults() - 1);
  shape.bKFastest = bInner == loops.k;
  // The sampler's maxima of groups of columns, where a group is a tile.
  if (foldsWritten) {
    SmallVector<Operation *> kernel = {op, epilogue};
    for (const RowReduction &reduction : reductions)
      kernel.push_back(reduction.op);
    for (const RowReduction &groups :
         findColumnGroupMaxima(written, epilogue, shape.tileN(), kernel)) {
      claimGroupMaxima(groups, epilogue);
      reductions.push_back(groups);
    }
  }
  AffineMap aMap = op.getIndexingMapsArray()[0];
  shape.pipeline(
      aMap.getDimPosition(aMap.getNumResults() - 1) == loops.k &&
          hasAlignedRowsOfEight(op.getDpsInputs()[0],
                                AlignedBuffers::WeightsAndAllocations),
      (bInner == loops.k || bInner == loops.n) &&
          hasAlignedRowsOfEight(op.getDpsInputs()[1], AlignedBuffers::Weights),
      stages);

  Value gridZ = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t batch : loops.batch)
    gridZ = arith::MulIOp::create(b, loc, gridZ, sizes[batch]);
  Value rows = sizes[loops.m[0]];
  for (size_t i = 1; i < loops.m.size(); ++i)
    rows = arith::MulIOp::create(b, loc, rows, sizes[loops.m[i]]);
  Value rowTiles = ceilDiv(b, loc, rows, shape.tileM());
  Value colTiles = ceilDiv(b, loc, sizes[loops.n], shape.tileN());
  // The row reductions' partials: one state per row and tile of columns.
  SmallVector<SmallVector<Value>> partials;
  if (!reductions.empty()) {
    // Their outputs may be allocated later; C's rows are the loops its map
    // reads.
    SmallVector<Value> rowSizes;
    for (unsigned r = 0; r + 1 < cMap.getNumResults(); ++r)
      rowSizes.push_back(sizes[cMap.getDimPosition(r)]);
    int64_t cols = op.getStaticLoopRanges()[loops.n];
    Value tiles = ShapedType::isDynamic(cols)
                      ? colTiles
                      : arith::ConstantIndexOp::create(
                            b, loc, llvm::divideCeil(cols, shape.tileN()));
    for (const RowReduction &reduction : reductions)
      partials.push_back(
          reduction.isColumnGroups()
              ? SmallVector<Value>(reduction.op.getDpsInits())
              : allocatePartials(b, loc, reduction.op, rowSizes, tiles));
  }
  gpu::LaunchOp launch = createLaunch(b, loc, rowTiles, colTiles, gridZ, shape);
  b.setInsertionPointToStart(&launch.getBody().front());

  // Batch indices from blockIdx.z, the last batch loop fastest.
  Value z = launch.getBlockIds().z;
  SmallVector<Value> batchIndex(loops.batch.size());
  for (int i = static_cast<int>(loops.batch.size()) - 1; i >= 0; --i) {
    Value size = sizes[loops.batch[i]];
    batchIndex[i] = arith::RemUIOp::create(b, loc, z, size);
    z = arith::DivUIOp::create(b, loc, z, size);
  }
  // The operand `i` element at row m (split over the M loops, the last
  // fastest), column n and depth k.
  auto access = [&](unsigned i) {
    return [&, i](OpBuilder &nb, Value m, Value n, Value k) {
      Value zero = arith::ConstantIndexOp::create(nb, loc, 0);
      SmallVector<Value> iv(op.getNumLoops(), zero);
      for (int l = static_cast<int>(loops.m.size()) - 1; l > 0; --l) {
        Value size = sizes[loops.m[l]];
        iv[loops.m[l]] = arith::RemUIOp::create(nb, loc, m, size);
        m = arith::DivUIOp::create(nb, loc, m, size);
      }
      iv[loops.m[0]] = m;
      iv[loops.n] = n;
      iv[loops.k] = k;
      for (size_t l = 0; l < loops.batch.size(); ++l)
        iv[loops.batch[l]] = batchIndex[l];
      AffineMap map = op.getIndexingMapsArray()[i];
      MmaAccess at{op->getOperand(i), {}};
      for (unsigned r = 0; r < map.getNumResults(); ++r)
        at.indices.push_back(iv[map.getDimPosition(r)]);
      return at;
    };
  };
  auto a = access(0), bOperand = access(1), cOperand = access(2);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  MmaProblem problem{
      rows,
      sizes[loops.n],
      sizes[loops.k],
      [&](OpBuilder &nb, Value row, Value k) { return a(nb, row, zero, k); },
      [&](OpBuilder &nb, Value k, Value col) {
        return bOperand(nb, zero, col, k);
      },
      [&](OpBuilder &nb, Value row, Value col) {
        return cOperand(nb, row, col, zero);
      }};
  problem.initialC = initialC;
  if (epilogue)
    problem.storeC = [&](OpBuilder &nb, Value row, Value col, Value acc) {
      emitEpilogueElement(nb, loc, epilogue, c,
                          cOperand(nb, row, col, zero).indices, acc);
    };
  if (!reductions.empty())
    problem.rowFold = rowFoldOf(reductions, partials, epilogue, c, loc,
                                [&](OpBuilder &nb, Value row, Value col) {
                                  return cOperand(nb, row, col, zero).indices;
                                });
  buildMmaTile(b, loc, launch, shape, problem);
  gpu::TerminatorOp::create(b, loc);
  op.erase();
  if (epilogue)
    epilogue.erase();
  for (auto [reduction, buffers] : llvm::zip(reductions, partials)) {
    OpBuilder after(reduction.op);
    after.setInsertionPointAfter(reduction.op);
    if (!reduction.isColumnGroups())
      for (Value partial : buffers)
        deallocManaged(after, loc, partial);
    reduction.replaceByMerge(buffers);
  }
  eraseUnusedBuffer(c);
}

/// A grouped expert projection from convert-dg-to-linalg:
///   out[m, i, n] += rows[m, i, k] * weight[max(tileExpert[m], 0), n, k]
/// with the weight read inside the body.
struct Grouped {
  Value rows, tileExpert, weight, out;
  int64_t groupRows;
};

std::optional<Grouped> matchGrouped(linalg::GenericOp op) {
  auto contract = dg::GroupedByExpertAttr::of(op);
  if (!contract || !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return std::nullopt;
  Grouped g{op.getDpsInputs()[0], op.getDpsInputs()[1], Value(),
            op.getDpsInits()[0], 0};
  auto rows = cast<MemRefType>(g.rows.getType());
  auto tileExpert = cast<MemRefType>(g.tileExpert.getType());
  auto out = cast<MemRefType>(g.out.getType());
  if (rows.getRank() != 3 || !rows.getElementType().isBF16() ||
      tileExpert.getRank() != 1 || !tileExpert.getElementType().isInteger(32) ||
      out.getRank() != 3 || !out.getElementType().isF32() ||
      rows.getDimSize(1) != contract.getGroupRows() ||
      contract.getGroupRows() % 16 != 0)
    return std::nullopt;
  g.groupRows = contract.getGroupRows();
  SmallVector<memref::LoadOp> loads(op.getBody()->getOps<memref::LoadOp>());
  if (loads.size() != 1)
    return std::nullopt;
  g.weight = loads[0].getMemRef();
  auto weight = cast<MemRefType>(g.weight.getType());
  if (weight.getRank() != 3 || !weight.getElementType().isBF16())
    return std::nullopt;
  if (Operation *def = g.weight.getDefiningOp(); def && op->isAncestor(def))
    return std::nullopt;
  return g;
}

/// A grouped projection: one block per 16 rows (one expert's tile, so the
/// block reads one expert's weights) and 4 warps side by side along N, a
/// 16 x 128 tile; blocks of unused tiles (expert -1) return at once.
void lowerGrouped(linalg::GenericOp op, const Grouped &g, int64_t stages) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  MmaTileShape shape;
  shape.warpsM = 1;
  shape.warpsN = 4;
  shape.pipeline(
      hasAlignedRowsOfEight(g.rows, AlignedBuffers::WeightsAndAllocations),
      hasAlignedRowsOfEight(g.weight, AlignedBuffers::Weights), stages);
  Value tiles = memref::DimOp::create(b, loc, g.rows, 0);
  Value rows = arith::MulIOp::create(b, loc, tiles, c(g.groupRows));
  Value cols = memref::DimOp::create(b, loc, g.out, 2);
  Value depth = memref::DimOp::create(b, loc, g.rows, 2);
  Value rowTiles = ceilDiv(b, loc, rows, shape.tileM());
  Value colTiles = ceilDiv(b, loc, cols, shape.tileN());
  gpu::LaunchOp launch = createLaunch(b, loc, rowTiles, colTiles, c(1), shape);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value tile = arith::DivUIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x, c(shape.tileM())),
      c(g.groupRows));
  Value expert = memref::LoadOp::create(b, loc, g.tileExpert, tile);
  Value used = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::sge, expert,
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)));
  auto ifUsed = scf::IfOp::create(b, loc, used);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifUsed.getThenRegion().front());
    Value e = arith::IndexCastOp::create(b, loc, b.getIndexType(), expert);
    auto rowAt = [&, loc](OpBuilder &nb, Value memref, Value row, Value last) {
      Value group = arith::ConstantIndexOp::create(nb, loc, g.groupRows);
      return MmaAccess{memref,
                       {arith::DivUIOp::create(nb, loc, row, group),
                        arith::RemUIOp::create(nb, loc, row, group), last}};
    };
    MmaProblem problem{rows,
                       cols,
                       depth,
                       [&](OpBuilder &nb, Value row, Value k) {
                         return rowAt(nb, g.rows, row, k);
                       },
                       [&](OpBuilder &, Value k, Value col) {
                         return MmaAccess{g.weight, {e, col, k}};
                       },
                       [&](OpBuilder &nb, Value row, Value col) {
                         return rowAt(nb, g.out, row, col);
                       }};
    buildMmaTile(b, loc, launch, shape, problem);
  }
  gpu::TerminatorOp::create(b, loc);
  op.erase();
}

struct GpuTensorCoreContractions
    : impl::DgGpuTensorCoreContractionsBase<GpuTensorCoreContractions> {
  using Base::Base;
  void runOnOperation() override {
    if (wideColumns < 1) {
      getOperation().emitError() << "wide-columns must be at least 1, got "
                                 << static_cast<int64_t>(wideColumns);
      return signalPassFailure();
    }
    if (stages < 2 || stages > 8) {
      getOperation().emitError()
          << "stages must be in [2, 8], got " << static_cast<int64_t>(stages);
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, Loops>> contractions;
    SmallVector<std::pair<linalg::GenericOp, Grouped>> grouped;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<Grouped> g = matchGrouped(op))
        grouped.push_back({op, *g});
      else if (std::optional<Loops> loops = matchContraction(op))
        contractions.push_back({op, *loops});
    });
    for (auto &[op, loops] : contractions)
      lowerContraction(op, loops, wideColumns, stages);
    for (auto &[op, g] : grouped)
      lowerGrouped(op, g, stages);
  }
};

} // namespace
} // namespace dgc
