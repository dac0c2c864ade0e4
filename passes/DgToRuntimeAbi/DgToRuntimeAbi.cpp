//===- DgToRuntimeAbi.cpp - Weights and KV cache to the runtime ABI -------===//

#include "dgc/runtime/ModuleFormat.h"
#include "passes/DgToRuntimeAbi/KVCacheAccess.h"
#include "passes/Passes.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"

namespace dgc {
#define GEN_PASS_DEF_CONVERTDGTORUNTIMEABI
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

// The runtime checks it of every offset in the manifest.
constexpr int64_t kWeightAlignment = runtime::kWeightAlignment;

struct WeightSlot {
  int64_t offset;
  RankedTensorType type;
};

int64_t byteSize(RankedTensorType type) {
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

/// Whether the keys and values `op` reads feed only dg.masked_attention ops
/// left whole for a kernel (the CUDA target's flash attention), as their
/// keys and values.
bool readOnlyByKernels(dg::KVCacheReadOp op) {
  auto readsBoth = [&](OpOperand &use, bool asKeys) {
    auto attention = dyn_cast<dg::MaskedAttentionOp>(use.getOwner());
    return attention && !attention.getRows() &&
           &use == (asKeys ? &attention.getKeysMutable()
                           : &attention.getValuesMutable()) &&
           attention.getKeys() == op.getKeys() &&
           attention.getValues() == op.getValues();
  };
  return !op.getKeys().use_empty() &&
         llvm::all_of(op.getKeys().getUses(),
                      [&](OpOperand &use) { return readsBoth(use, true); }) &&
         llvm::all_of(op.getValues().getUses(),
                      [&](OpOperand &use) { return readsBoth(use, false); });
}

/// Points the attention ops that read `op`'s rows at the pool itself, with
/// the rows' pool row numbers (the paged dg.masked_attention), so that no
/// gathered copy of the keys and values is made. Returns the positions
/// (null without `withPositions`).
Value readInPlace(OpBuilder &b, dg::KVCacheReadOp op, Value pool, Value table,
                  bool withPositions) {
  KVCacheRows rows = lowerKVCacheReadRows(b, op, table, withPositions);
  auto poolType = cast<MemRefType>(pool.getType());
  Value poolTensor = bufferization::ToTensorOp::create(
      b, op.getLoc(),
      RankedTensorType::get(poolType.getShape(), poolType.getElementType()),
      pool, /*restrict=*/true, /*writable=*/false);
  SmallVector<dg::MaskedAttentionOp> users;
  for (Operation *user : op.getKeys().getUsers())
    users.push_back(cast<dg::MaskedAttentionOp>(user));
  for (dg::MaskedAttentionOp attention : users) {
    b.setInsertionPoint(attention);
    auto paged = dg::MaskedAttentionOp::create(
        b, attention.getLoc(), attention.getResultTypes(), attention.getQ(),
        poolTensor, poolTensor, attention.getMask(), rows.rows,
        attention.getInit(), attention.getScaleAttr());
    attention.replaceAllUsesWith(paged);
    attention.erase();
  }
  return rows.positions;
}

class RuntimeAbiLowering {
public:
  explicit RuntimeAbiLowering(ModuleOp module)
      : module(module), ctx(module.getContext()) {}

  LogicalResult run();

private:
  LogicalResult assignWeightSlots();
  LogicalResult lowerGraph(func::FuncOp func);
  /// Keeps the geometry of each cache pool for the manifest.
  void recordPool(StringAttr name, dg::KVCacheType cache);

  ModuleOp module;
  MLIRContext *ctx;
  llvm::StringMap<WeightSlot> slots;
  std::vector<std::string> order;
};

LogicalResult RuntimeAbiLowering::assignWeightSlots() {
  int64_t offset = 0;
  WalkResult result = module.walk([&](dg::WeightOp op) -> WalkResult {
    auto type = cast<RankedTensorType>(op.getType());
    auto [it, inserted] = slots.try_emplace(op.getName(), WeightSlot{0, type});
    if (!inserted) {
      if (it->second.type != type)
        return op.emitOpError()
               << "uses weight '" << op.getName() << "' as " << type
               << " but it was used as " << it->second.type << " before";
      return WalkResult::advance();
    }
    offset = llvm::alignTo(offset, kWeightAlignment);
    it->second.offset = offset;
    offset += byteSize(type);
    order.push_back(op.getName().str());
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();

  Builder b(ctx);
  SmallVector<Attribute> table;
  for (const std::string &name : order) {
    const WeightSlot &slot = slots[name];
    table.push_back(dg::WeightSlotAttr::get(ctx, name, slot.offset,
                                            slot.type.getShape(),
                                            slot.type.getElementType()));
  }
  module->setAttr(dg::kWeightTableAttrName, b.getArrayAttr(table));
  module->setAttr(dg::kWeightBytesAttrName,
                  b.getI64IntegerAttr(llvm::alignTo(offset, kWeightAlignment)));
  return success();
}

void RuntimeAbiLowering::recordPool(StringAttr name, dg::KVCacheType cache) {
  NamedAttrList pools;
  if (auto existing =
          module->getAttrOfType<DictionaryAttr>(dg::kKVCachePoolsAttrName))
    pools.append(existing.getValue());
  pools.set(name ? name.getValue() : "kv_cache", TypeAttr::get(cache));
  module->setAttr(dg::kKVCachePoolsAttrName, pools.getDictionary(ctx));
}

LogicalResult RuntimeAbiLowering::lowerGraph(func::FuncOp func) {
  OpBuilder b(ctx);
  Location loc = func.getLoc();

  // The weight arena comes first.
  Type arenaType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
  if (failed(func.insertArgument(
          0, arenaType,
          b.getDictionaryAttr(
              b.getNamedAttr(dg::kNameAttrName, b.getStringAttr("weights"))),
          loc)))
    return failure();
  Value arena = func.getArgument(0);
  // Each cache becomes its pool and its table (KVCacheAccess.h).
  DenseMap<Value, std::pair<Value, Value>> caches;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    BlockArgument arg = func.getArgument(i);
    auto cache = dyn_cast<dg::KVCacheType>(arg.getType());
    if (!cache)
      continue;
    auto name = func.getArgAttrOfType<StringAttr>(i, dg::kNameAttrName);
    recordPool(name, cache);
    arg.setType(kvPoolType(cache));
    func.setArgAttr(i, dg::kKVCacheAttrName, b.getUnitAttr());
    std::string tableName = (name ? name.str() : "kv_cache") + ".table";
    if (failed(func.insertArgument(
            i + 1, kvTableType(ctx),
            b.getDictionaryAttr(
                {b.getNamedAttr(dg::kNameAttrName, b.getStringAttr(tableName)),
                 b.getNamedAttr(dg::kKVCacheTableAttrName, b.getUnitAttr())}),
            loc)))
      return failure();
    caches[arg] = {arg, func.getArgument(i + 1)};
    ++i;
  }
  func.setType(FunctionType::get(ctx, func.front().getArgumentTypes(),
                                 func.getResultTypes()));
  func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), b.getUnitAttr());

  SmallVector<Operation *> toErase;
  func.walk([&](dg::WeightOp op) {
    b.setInsertionPoint(op);
    auto type = cast<RankedTensorType>(op.getType());
    Value offset = arith::ConstantIndexOp::create(b, op.getLoc(),
                                                  slots[op.getName()].offset);
    Value view = memref::ViewOp::create(
        b, op.getLoc(), MemRefType::get(type.getShape(), type.getElementType()),
        arena, offset, ValueRange{});
    Value tensor = bufferization::ToTensorOp::create(
        b, op.getLoc(), type, view, /*restrict=*/true, /*writable=*/false);
    op.replaceAllUsesWith(tensor);
    toErase.push_back(op);
  });

  func.walk([&](dg::KVCacheWriteOp op) {
    auto [pool, table] = caches.lookup(op.getCache());
    lowerKVCacheWrite(b, op, pool, table);
    toErase.push_back(op);
  });

  // Collected first: reading in place replaces the attention ops after
  // each read.
  SmallVector<dg::KVCacheReadOp> reads;
  func.walk([&](dg::KVCacheReadOp op) { reads.push_back(op); });
  // Reads of one cache up to the same lengths list the same positions (the
  // layer moves only the pool rows): the first read's serve the later ones
  // in its block, so that what is built from them, each layer's mask, is
  // one value that cse can share.
  DenseMap<std::pair<Value, Value>, Value> positionsOf;
  for (dg::KVCacheReadOp op : reads) {
    auto [pool, table] = caches.lookup(op.getCache());
    Value &positions = positionsOf[{op.getCache(), op.getLengths()}];
    bool shared = positions && positions.getParentBlock() == op->getBlock();
    Value read;
    if (readOnlyByKernels(op)) {
      read = readInPlace(b, op, pool, table, !shared);
    } else {
      SmallVector<Value> rows = lowerKVCacheRead(b, op, pool, table, !shared);
      op.getKeys().replaceAllUsesWith(rows[0]);
      op.getValues().replaceAllUsesWith(rows[1]);
      read = rows[2];
    }
    if (!shared)
      positions = read;
    op.getPositions().replaceAllUsesWith(positions);
    toErase.push_back(op);
  }

  for (Operation *op : toErase)
    op->erase();
  return success();
}

LogicalResult RuntimeAbiLowering::run() {
  if (failed(assignWeightSlots()))
    return failure();
  SmallVector<func::FuncOp> graphs;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isExternal())
      graphs.push_back(func);
  for (func::FuncOp func : graphs)
    if (failed(lowerGraph(func)))
      return failure();
  return success();
}

struct ConvertDgToRuntimeAbiPass
    : impl::ConvertDgToRuntimeAbiBase<ConvertDgToRuntimeAbiPass> {
  void runOnOperation() override {
    if (failed(RuntimeAbiLowering(getOperation()).run()))
      signalPassFailure();
  }
};

} // namespace
} // namespace dgc
