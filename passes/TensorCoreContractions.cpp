//===- TensorCoreContractions.cpp - bf16 contractions on tensor cores -----===//
//
// The CUDA target's first tensor-core kernel. Each block of 4 warps owns a
// 64 x 32 tile of C; per 16-wide step of K it stages A[64 x 16] and
// B[16 x 32] in shared memory (zero outside the operands), and warp w feeds
// rows 16w..16w+15 through four m16n8k16 mma.sync ops, one per 8 columns.
// (A 64-wide N tile doubles the accumulators and spills.)
//
// Fragments follow the PTX ISA's layout for mma.m16n8k16 with .bf16, with
// g = lane / 4 and t = lane % 4:
//   A (row major): {A[g][2t..2t+1]}, {A[g+8][2t..]}, {A[g][2t+8..]},
//                  {A[g+8][2t+8..]}, two bf16 per 32-bit register;
//   B (column major): {B[2t..2t+1][g]}, {B[2t+8..2t+9][g]};
//   C/D: C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1].
//
// Operands are read through their indexing maps, so transposed weights,
// broadcast batches and strided views need no special case.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUTENSORCORECONTRACTIONS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kTileM = 64, kTileN = 32, kTileK = 16, kThreads = 128;
/// m16n8 tiles per warp along N.
constexpr int kFragsN = kTileN / 8;

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

/// Builds the kernel body inside a gpu.launch.
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, linalg::GenericOp op,
                const Loops &loops, ArrayRef<Value> sizes)
      : b(b), loc(loc), op(op), loops(loops), sizes(sizes.begin(), sizes.end()) {
  }

  void build(gpu::LaunchOp launch);

private:
  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, c(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, c(y));
  }
  Value below(Value x, Value bound) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, bound);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }

  /// Indices into operand `i` for the loop values `iv` (null where the
  /// operand does not depend on the loop).
  SmallVector<Value> indices(unsigned i, ArrayRef<Value> iv) {
    AffineMap map = op.getIndexingMapsArray()[i];
    SmallVector<Value> out;
    for (unsigned r = 0; r < map.getNumResults(); ++r)
      out.push_back(iv[map.getDimPosition(r)]);
    return out;
  }
  /// operand[i] at `iv` when `inBounds`, else zero of its element type.
  Value guardedLoad(unsigned i, ArrayRef<Value> iv, Value inBounds) {
    Value memref = op->getOperand(i);
    Type type = cast<MemRefType>(memref.getType()).getElementType();
    auto branch = scf::IfOp::create(b, loc, type, inBounds, true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&branch.getThenRegion().front());
    scf::YieldOp::create(
        b, loc, memref::LoadOp::create(b, loc, memref, indices(i, iv)).getResult());
    b.setInsertionPointToStart(&branch.getElseRegion().front());
    scf::YieldOp::create(
        b, loc, arith::ConstantOp::create(b, loc, b.getZeroAttr(type)).getResult());
    return branch.getResult(0);
  }
  /// Two bf16 as one 32-bit register, `lo` in the low half.
  Value pack(Value lo, Value hi) {
    Type i16 = b.getI16Type(), i32 = b.getI32Type();
    auto widen = [&](Value v) {
      return arith::ExtUIOp::create(
          b, loc, i32, arith::BitcastOp::create(b, loc, i16, v));
    };
    Value high = arith::ShLIOp::create(
        b, loc, widen(hi),
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16)));
    return arith::OrIOp::create(b, loc, widen(lo), high);
  }
  /// The loop values with the row, n, k set and the batch indices of this
  /// block; the row splits over the M loops, the last fastest.
  SmallVector<Value> loopValues(Value m, Value n, Value k) {
    SmallVector<Value> iv(op.getNumLoops(), c(0));
    for (int i = static_cast<int>(loops.m.size()) - 1; i > 0; --i) {
      Value size = sizes[loops.m[i]];
      iv[loops.m[i]] = arith::RemUIOp::create(b, loc, m, size);
      m = arith::DivUIOp::create(b, loc, m, size);
    }
    iv[loops.m[0]] = m;
    iv[loops.n] = n;
    iv[loops.k] = k;
    for (size_t i = 0; i < loops.batch.size(); ++i)
      iv[loops.batch[i]] = batchIndex[i];
    return iv;
  }

  OpBuilder &b;
  Location loc;
  linalg::GenericOp op;
  Loops loops;
  SmallVector<Value> sizes; // every loop's trip count
  SmallVector<Value> batchIndex;
};

void KernelBuilder::build(gpu::LaunchOp launch) {
  Value tid = launch.getThreadIds().x;
  gpu::KernelDim3 block = launch.getBlockIds();
  Value warp = div(tid, 32), lane = rem(tid, 32);
  Value g = div(lane, 4), t = rem(lane, 4);
  Value m0 = mul(block.y, c(kTileM)), n0 = mul(block.x, c(kTileN));
  Value M = sizes[loops.m[0]], N = sizes[loops.n], K = sizes[loops.k];
  for (size_t i = 1; i < loops.m.size(); ++i)
    M = mul(M, sizes[loops.m[i]]);
  // Batch indices from blockIdx.z, the last batch loop fastest.
  Value z = block.z;
  batchIndex.assign(loops.batch.size(), Value());
  for (int i = static_cast<int>(loops.batch.size()) - 1; i >= 0; --i) {
    Value size = sizes[loops.batch[i]];
    batchIndex[i] = arith::RemUIOp::create(b, loc, z, size);
    z = arith::DivUIOp::create(b, loc, z, size);
  }
  Value sA = launch.getWorkgroupAttributions()[0];
  Value sB = launch.getWorkgroupAttributions()[1];

  // This lane's accumulator rows and columns: rows r0, r0 + 8 of the warp's
  // 16; columns 8j + 2t, 8j + 2t + 1 for each m16n8 tile j.
  Value r0 = add(m0, add(mul(warp, c(16)), g)), r1 = add(r0, c(8));
  auto column = [&](int j, int e) {
    return add(n0, add(c(8 * j + e), mul(t, c(2))));
  };
  auto position = [&](int index, int j, Value &row, Value &col) {
    row = index < 2 ? r0 : r1;
    col = column(j, index % 2);
  };
  SmallVector<Value> acc;
  for (int j = 0; j < kFragsN; ++j)
    for (int e = 0; e < 4; ++e) {
      Value row, col;
      position(e, j, row, col);
      acc.push_back(guardedLoad(2, loopValues(row, col, c(0)),
                                both(below(row, M), below(col, N))));
    }

  auto loop = scf::ForOp::create(b, loc, c(0), K, c(kTileK), acc);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    // Stage A[m0.., k0..] and B[k0.., n0..] in loops, not unrolled code:
    // unrolled, the addresses of every load stay live across the K loop
    // and the kernel runs out of registers.
    auto staged = [&](int64_t perThread, auto body) {
      auto stage = scf::ForOp::create(b, loc, c(0), c(perThread), c(1));
      OpBuilder::InsertionGuard stageGuard(b);
      b.setInsertionPointToStart(stage.getBody());
      body(add(mul(tid, c(perThread)), stage.getInductionVar()));
    };
    staged(kTileM * kTileK / kThreads, [&](Value idx) {
      Value r = div(idx, kTileK), col = rem(idx, kTileK);
      Value gm = add(m0, r), gk = add(k0, col);
      Value a = guardedLoad(0, loopValues(gm, c(0), gk),
                            both(below(gm, M), below(gk, K)));
      memref::StoreOp::create(b, loc, a, sA, ValueRange{r, col});
    });
    staged(kTileK * kTileN / kThreads, [&](Value idx) {
      Value kr = div(idx, kTileN), nc = rem(idx, kTileN);
      Value bk = add(k0, kr), bn = add(n0, nc);
      Value v = guardedLoad(1, loopValues(c(0), bn, bk),
                            both(below(bk, K), below(bn, N)));
      memref::StoreOp::create(b, loc, v, sB, ValueRange{kr, nc});
    });
    gpu::BarrierOp::create(b, loc);

    auto lds = [&](Value tile, Value row, Value col) {
      return memref::LoadOp::create(b, loc, tile, ValueRange{row, col})
          .getResult();
    };
    Value ra = add(mul(warp, c(16)), g), ra8 = add(ra, c(8));
    Value t2 = mul(t, c(2)), t21 = add(t2, c(1));
    Value t28 = add(t2, c(8)), t29 = add(t2, c(9));
    SmallVector<Value> fragA = {
        pack(lds(sA, ra, t2), lds(sA, ra, t21)),
        pack(lds(sA, ra8, t2), lds(sA, ra8, t21)),
        pack(lds(sA, ra, t28), lds(sA, ra, t29)),
        pack(lds(sA, ra8, t28), lds(sA, ra8, t29))};
    Type f32 = b.getF32Type();
    Type result = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                   {f32, f32, f32, f32});
    SmallVector<Value> next;
    for (int j = 0; j < kFragsN; ++j) {
      Value cb = add(c(8 * j), g);
      SmallVector<Value> fragB = {pack(lds(sB, t2, cb), lds(sB, t21, cb)),
                                  pack(lds(sB, t28, cb), lds(sB, t29, cb))};
      ValueRange fragC = loop.getRegionIterArgs().slice(4 * j, 4);
      auto mma = NVVM::MmaOp::create(
          b, loc, result, fragA, fragB, fragC, {16, 8, 16}, std::nullopt,
          std::nullopt,
          std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16,
                                        NVVM::MMATypes::bf16},
          std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                         NVVM::MMALayout::col});
      for (int64_t e = 0; e < 4; ++e)
        next.push_back(LLVM::ExtractValueOp::create(b, loc, mma, e));
    }
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, next);
  }

  for (int j = 0; j < kFragsN; ++j)
    for (int e = 0; e < 4; ++e) {
      Value row, col;
      position(e, j, row, col);
      auto store = scf::IfOp::create(b, loc, both(below(row, M), below(col, N)));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      memref::StoreOp::create(b, loc, loop.getResult(4 * j + e),
                              op.getDpsInits()[0],
                              indices(2, loopValues(row, col, c(0))));
    }
}

struct TensorCoreContractions
    : impl::DgGpuTensorCoreContractionsBase<TensorCoreContractions> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, Loops>> found;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<Loops> loops = matchContraction(op))
        found.push_back({op, *loops});
    });
    MLIRContext *ctx = &getContext();
    auto workgroup =
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    Type bf16 = BFloat16Type::get(ctx);
    auto tileA = MemRefType::get({kTileM, kTileK}, bf16, AffineMap(), workgroup);
    auto tileB = MemRefType::get({kTileK, kTileN}, bf16, AffineMap(), workgroup);
    for (auto &[op, loops] : found) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      // Each loop's trip count: the size of an operand dimension it indexes.
      SmallVector<Value> sizes(op.getNumLoops());
      for (auto [operand, map] :
           llvm::zip(op->getOperands(), op.getIndexingMapsArray()))
        for (unsigned r = 0; r < map.getNumResults(); ++r)
          if (!sizes[map.getDimPosition(r)])
            sizes[map.getDimPosition(r)] =
                memref::DimOp::create(b, loc, operand, r);
      auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
      auto ceilDiv = [&](Value x, int64_t d) {
        return arith::CeilDivUIOp::create(b, loc, x, c(d)).getResult();
      };
      Value gridZ = c(1);
      for (int64_t batch : loops.batch)
        gridZ = arith::MulIOp::create(b, loc, gridZ, sizes[batch]);
      Value rows = sizes[loops.m[0]];
      for (size_t i = 1; i < loops.m.size(); ++i)
        rows = arith::MulIOp::create(b, loc, rows, sizes[loops.m[i]]);
      auto launch = gpu::LaunchOp::create(
          b, loc, ceilDiv(sizes[loops.n], kTileN), ceilDiv(rows, kTileM), gridZ, c(kThreads), c(1), c(1),
          /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
          ValueRange(), TypeRange{tileA, tileB});
      b.setInsertionPointToStart(&launch.getBody().front());
      KernelBuilder(b, loc, op, loops, sizes).build(launch);
      gpu::TerminatorOp::create(b, loc);
      op.erase();
    }
  }
};

} // namespace
} // namespace dgc
