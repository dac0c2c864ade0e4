//===- GpuTopK.cpp - A top-k as one radix-select kernel per row -----------===//
//
// convert-dg-to-linalg writes top-k as k passes of a best-of-rows over the
// whole row: 64 reads of a 262144-wide vocabulary row for the sampler. Here
// the loop (#dg.top_k_loop) becomes one block per row that reads the row a
// few times:
//
//   key(i)  = orderable(x[i]) << 32 | ~i       distinct, (value desc, index
//   asc) for 8 bits at a time from the top, while not done:
//     histogram the next digit of the keys that match the prefix so far
//     thread 0: the digit whose bin holds the k-th largest key; done when
//               that bin holds exactly the keys still needed
//   collect the keys >= prefix (exactly k) into shared memory
//   each selected key's output position = how many selected keys are larger
//
// Lanes of a warp that share a digit add to the histogram once
// (match.any.sync), so a row whose values crowd into few bins does not
// serialise on shared-memory atomics.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/TopKLoop.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUTOPK
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kDigitBits = 8;
constexpr int64_t kBins = 1 << kDigitBits;
constexpr int64_t kKeyBits = 64;

/// Builds the kernel body; `b` sits at the start of the launch's block.
class KernelBuilder {
public:
  KernelBuilder(ImplicitLocOpBuilder &b, const TopKLoop &m,
                gpu::LaunchOp launch, ArrayRef<Value> leadingSizes,
                int64_t blockSize)
      : b(b), m(m), blockSize(blockSize) {
    tid = launch.getThreadIds().x;
    Value row = launch.getBlockIds().x;
    rowIndices.resize(leadingSizes.size());
    for (int d = static_cast<int>(leadingSizes.size()) - 1; d >= 0; --d) {
      rowIndices[d] = arith::RemUIOp::create(b, row, leadingSizes[d]);
      row = arith::DivUIOp::create(b, row, leadingSizes[d]);
    }
    ArrayRef<BlockArgument> smem = launch.getWorkgroupAttributions();
    histogram = smem[0];
    selected = smem[1];
    wideState = smem[2];   // prefix, mask
    narrowState = smem[3]; // still needed, done, selected so far
    length = cast<MemRefType>(m.x.getType()).getShape().back();
  }

  void build() {
    onThreadZero([&] {
      store(i64(0), wideState, 0);
      store(i64(0), wideState, 1);
      store(i32(m.k), narrowState, 0);
      store(i32(0), narrowState, 1);
      store(i32(0), narrowState, 2);
    });
    gpu::BarrierOp::create(b);
    loop(index(0), index(kKeyBits / kDigitBits), index(1), [&](Value pass) {
      Value done = load(narrowState, 1);
      ifThen(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, done, i32(0)),
             [&] { radixPass(pass); });
    });
    collect();
    gpu::BarrierOp::create(b);
    writeInOrder();
    gpu::TerminatorOp::create(b);
  }

private:
  ImplicitLocOpBuilder &b;
  const TopKLoop &m;
  int64_t blockSize, length;
  Value tid, histogram, selected, wideState, narrowState;
  SmallVector<Value> rowIndices;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(v));
  }
  Value i64(int64_t v) {
    return arith::ConstantOp::create(b, b.getI64IntegerAttr(v));
  }
  Value load(Value memref, int64_t at) {
    return memref::LoadOp::create(b, memref, ValueRange{index(at)});
  }
  void store(Value v, Value memref, int64_t at) {
    memref::StoreOp::create(b, v, memref, ValueRange{index(at)});
  }
  /// Adds `v` to memref[at]; returns the value it held.
  Value atomicAdd(Value v, Value memref, Value at) {
    return memref::AtomicRMWOp::create(
        b,
        arith::AtomicRMWKindAttr::get(b.getContext(),
                                      arith::AtomicRMWKind::addi),
        v, memref, ValueRange{at});
  }
  SmallVector<Value> rowAt(Value column) {
    SmallVector<Value> at(rowIndices);
    at.push_back(column);
    return at;
  }
  void loop(Value from, Value to, Value step, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, from, to, step);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forOp.getBody()->getTerminator());
    body(forOp.getInductionVar());
  }
  void ifThen(Value condition, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }
  void onThreadZero(function_ref<void()> body) {
    ifThen(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, index(0)),
           body);
  }

  /// The key of column `i` of this block's row: larger for a larger value,
  /// and for an equal value at a lower index.
  Value keyAt(Value i) {
    Value v = memref::LoadOp::create(b, m.x, rowAt(i));
    if (!v.getType().isF32())
      v = arith::ExtFOp::create(b, b.getF32Type(), v);
    Value bits = arith::BitcastOp::create(b, b.getI32Type(), v);
    Value zero = arith::CmpFOp::create(
        b, arith::CmpFPredicate::OEQ, v,
        arith::ConstantOp::create(b, b.getF32FloatAttr(0.0)));
    bits = arith::SelectOp::create(b, zero, i32(0), bits); // -0 is +0
    Value negative =
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, bits, i32(0));
    // Negative numbers reverse their order; positive ones move above them.
    Value ordered = arith::SelectOp::create(
        b, negative, arith::XOrIOp::create(b, bits, i32(-1)),
        arith::XOrIOp::create(b, bits, i32(INT32_MIN)));
    Value nan = arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, v, v);
    ordered = arith::SelectOp::create(b, nan, i32(0), ordered);
    Value column = arith::XOrIOp::create(
        b, arith::IndexCastUIOp::create(b, b.getI32Type(), i), i32(-1));
    return arith::OrIOp::create(
        b,
        arith::ShLIOp::create(
            b, arith::ExtUIOp::create(b, b.getI64Type(), ordered), i64(32)),
        arith::ExtUIOp::create(b, b.getI64Type(), column));
  }

  /// One digit: histogram, then thread 0 narrows the prefix.
  void radixPass(Value pass) {
    Value prefix = load(wideState, 0), mask = load(wideState, 1);
    Value shift = arith::SubIOp::create(
        b, i64(kKeyBits - kDigitBits),
        arith::MulIOp::create(
            b, arith::IndexCastUIOp::create(b, b.getI64Type(), pass),
            i64(kDigitBits)));
    loop(tid, index(kBins), index(blockSize), [&](Value bin) {
      memref::StoreOp::create(b, i32(0), histogram, bin);
    });
    gpu::BarrierOp::create(b);
    // Warp-uniform trips, so every lane reaches match.any.sync; lanes past
    // the row or off the prefix carry the digit kBins, which is not counted.
    loop(index(0), index(length), index(blockSize), [&](Value start) {
      Value i = arith::AddIOp::create(b, start, tid);
      Value inRow =
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, i, index(length));
      Value safe = arith::SelectOp::create(b, inRow, i, index(0));
      Value key = keyAt(safe);
      Value matches = arith::AndIOp::create(
          b, inRow,
          arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                arith::AndIOp::create(b, key, mask), prefix));
      Value digit = arith::TruncIOp::create(
          b, b.getI32Type(),
          arith::AndIOp::create(b, arith::ShRUIOp::create(b, key, shift),
                                i64(kBins - 1)));
      digit = arith::SelectOp::create(b, matches, digit, i32(kBins));
      Value peers = NVVM::MatchSyncOp::create(b, b.getI32Type(), i32(-1), digit,
                                              NVVM::MatchSyncKind::any);
      Value lane = arith::AndIOp::create(
          b, arith::IndexCastUIOp::create(b, b.getI32Type(), tid), i32(31));
      Value below = arith::SubIOp::create(
          b, arith::ShLIOp::create(b, i32(1), lane), i32(1));
      Value leader =
          arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                arith::AndIOp::create(b, peers, below), i32(0));
      ifThen(arith::AndIOp::create(b, leader, matches), [&] {
        atomicAdd(math::CtPopOp::create(b, peers), histogram,
                  arith::IndexCastUIOp::create(b, b.getIndexType(), digit));
      });
    });
    gpu::BarrierOp::create(b);
    onThreadZero([&] { narrow(prefix, mask, shift); });
    gpu::BarrierOp::create(b);
  }

  /// From the top bin down, the bin where the k-th largest key falls.
  void narrow(Value prefix, Value mask, Value shift) {
    Value needed = load(narrowState, 0);
    Value f = arith::ConstantOp::create(b, b.getBoolAttr(false));
    auto scan =
        scf::ForOp::create(b, index(0), index(kBins), index(1),
                           ValueRange{i32(0), f, i32(0), i32(0), i32(0)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(scan.getBody());
      Value above = scan.getRegionIterArgs()[0],
            found = scan.getRegionIterArgs()[1];
      Value bin =
          arith::SubIOp::create(b, index(kBins - 1), scan.getInductionVar());
      Value count = memref::LoadOp::create(b, histogram, ValueRange{bin});
      Value through = arith::AddIOp::create(b, above, count);
      Value hit = arith::AndIOp::create(
          b,
          arith::XOrIOp::create(
              b, found, arith::ConstantOp::create(b, b.getBoolAttr(true))),
          arith::CmpIOp::create(b, arith::CmpIPredicate::sge, through, needed));
      auto pick = [&](Value now, unsigned arg) -> Value {
        return arith::SelectOp::create(b, hit, now,
                                       scan.getRegionIterArgs()[arg]);
      };
      scf::YieldOp::create(
          b, ValueRange{
                 through, arith::OrIOp::create(b, found, hit),
                 pick(arith::IndexCastUIOp::create(b, b.getI32Type(), bin), 2),
                 pick(above, 3), pick(count, 4)});
    }
    Value digit = scan.getResult(2), before = scan.getResult(3),
          inBin = scan.getResult(4);
    Value stillNeeded = arith::SubIOp::create(b, needed, before);
    store(arith::OrIOp::create(
              b, prefix,
              arith::ShLIOp::create(
                  b, arith::ExtUIOp::create(b, b.getI64Type(), digit), shift)),
          wideState, 0);
    store(arith::OrIOp::create(b, mask,
                               arith::ShLIOp::create(b, i64(kBins - 1), shift)),
          wideState, 1);
    store(stillNeeded, narrowState, 0);
    Value done =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, inBin, stillNeeded);
    store(arith::ExtUIOp::create(b, b.getI32Type(), done), narrowState, 1);
  }

  /// The keys at or above the prefix are exactly the k largest.
  void collect() {
    Value prefix = load(wideState, 0), mask = load(wideState, 1);
    loop(tid, index(length), index(blockSize), [&](Value i) {
      Value key = keyAt(i);
      Value chosen =
          arith::CmpIOp::create(b, arith::CmpIPredicate::uge,
                                arith::AndIOp::create(b, key, mask), prefix);
      ifThen(chosen, [&] {
        Value slot = atomicAdd(i32(1), narrowState, index(2));
        Value at = arith::IndexCastUIOp::create(b, b.getIndexType(), slot);
        ifThen(
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, at, index(m.k)),
            [&] { memref::StoreOp::create(b, key, selected, at); });
      });
    });
  }

  /// Each selected key goes to the position of its rank among them.
  void writeInOrder() {
    loop(tid, index(m.k), index(blockSize), [&](Value s) {
      Value mine = memref::LoadOp::create(b, selected, ValueRange{s});
      auto count = scf::ForOp::create(b, index(0), index(m.k), index(1),
                                      ValueRange{index(0)});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(count.getBody());
        Value other = memref::LoadOp::create(
            b, selected, ValueRange{count.getInductionVar()});
        Value larger =
            arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, other, mine);
        scf::YieldOp::create(
            b, ValueRange{arith::AddIOp::create(
                   b, count.getRegionIterArgs()[0],
                   arith::SelectOp::create(b, larger, index(1), index(0)))});
      }
      Value column = arith::XOrIOp::create(
          b, arith::TruncIOp::create(b, b.getI32Type(), mine), i32(-1));
      Value at = arith::IndexCastUIOp::create(b, b.getIndexType(), column);
      Value value = memref::LoadOp::create(b, m.x, rowAt(at));
      memref::StoreOp::create(b, value, m.values, rowAt(count.getResult(0)));
      memref::StoreOp::create(b, column, m.indices, rowAt(count.getResult(0)));
    });
  }
};

struct GpuTopK : impl::DgGpuTopKBase<GpuTopK> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 32 || threads > 1024 || (threads & (threads - 1))) {
      getOperation().emitError("threads must be a power of two in [32, 1024]");
      return signalPassFailure();
    }
    // Loops already inside a kernel stay as they are.
    for (auto &[loop, m] :
         findTopKLoops(getOperation(), [](scf::ForOp loop, const TopKLoop &) {
           return !loop->getParentOfType<gpu::LaunchOp>();
         }))
      rewrite(loop, m);
  }

  void rewrite(scf::ForOp loop, const TopKLoop &m) {
    ImplicitLocOpBuilder b(loop.getLoc(), loop);
    auto xType = cast<MemRefType>(m.x.getType());
    SmallVector<Value> leadingSizes;
    Value rows = arith::ConstantIndexOp::create(b, 1);
    for (int64_t d = 0; d + 1 < xType.getRank(); ++d) {
      Value size = xType.isDynamicDim(d)
                       ? memref::DimOp::create(b, m.x, d).getResult()
                       : arith::ConstantIndexOp::create(b, xType.getDimSize(d))
                             .getResult();
      leadingSizes.push_back(size);
      rows = arith::MulIOp::create(b, rows, size);
    }
    // A short row needs fewer threads (whole warps, for match.any.sync).
    int64_t blockSize = threads;
    while (blockSize > 32 && blockSize / 2 >= xType.getShape().back())
      blockSize /= 2;
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    auto shared = [&](int64_t size, Type element) -> Type {
      return MemRefType::get({size}, element, AffineMap(), workgroup);
    };
    SmallVector<Type> scratch = {
        shared(kBins, b.getI32Type()), shared(m.k, b.getI64Type()),
        shared(2, b.getI64Type()), shared(3, b.getI32Type())};
    Value one = arith::ConstantIndexOp::create(b, 1);
    auto launch = gpu::LaunchOp::create(
        b, rows, one, one, arith::ConstantIndexOp::create(b, blockSize), one,
        one, nullptr, nullptr, ValueRange(), scratch);
    b.setInsertionPointToStart(&launch.getBody().front());
    KernelBuilder(b, m, launch, leadingSizes, blockSize).build();
    loop.erase();
  }
};

} // namespace
} // namespace dgc
