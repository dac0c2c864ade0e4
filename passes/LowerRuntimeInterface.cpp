//===- LowerRuntimeInterface.cpp - Weights and KV cache to the runtime ABI ===//

#include "passes/Passes.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace dgc {
#define GEN_PASS_DEF_LOWERDGRUNTIMEINTERFACE
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kWeightAlignment = 64;

struct WeightSlot {
  int64_t offset;
  RankedTensorType type;
};

int64_t byteSize(RankedTensorType type) {
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

std::string typeSuffix(Type elementType) {
  std::string s;
  llvm::raw_string_ostream os(s);
  elementType.print(os);
  return s;
}

class RuntimeInterfaceLowering {
public:
  explicit RuntimeInterfaceLowering(ModuleOp module)
      : module(module), ctx(module.getContext()), symbols(module) {}

  LogicalResult run();

private:
  LogicalResult assignWeightSlots();
  LogicalResult lowerGraph(func::FuncOp func);
  /// The runtime's C function `name` of `type`, declared once.
  func::FuncOp runtimeFunction(StringRef name, FunctionType type);
  Value unranked(OpBuilder &b, Location loc, Value tensor, bool readOnly);
  /// Keeps the geometry of each cache pool for the manifest.
  void recordPool(StringAttr name, dg::KVCacheType cache);

  ModuleOp module;
  MLIRContext *ctx;
  SymbolTable symbols;
  llvm::StringMap<WeightSlot> slots;
  std::vector<std::string> order;
};

LogicalResult RuntimeInterfaceLowering::assignWeightSlots() {
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
    table.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("name", b.getStringAttr(name)),
         b.getNamedAttr("offset", b.getI64IntegerAttr(slot.offset)),
         b.getNamedAttr("shape", b.getDenseI64ArrayAttr(slot.type.getShape())),
         b.getNamedAttr("type", TypeAttr::get(slot.type.getElementType()))}));
  }
  module->setAttr("dg.weight_table", b.getArrayAttr(table));
  module->setAttr("dg.weight_bytes",
                  b.getI64IntegerAttr(llvm::alignTo(offset, kWeightAlignment)));
  return success();
}

func::FuncOp RuntimeInterfaceLowering::runtimeFunction(StringRef name,
                                                       FunctionType type) {
  if (auto existing = symbols.lookup<func::FuncOp>(name))
    return existing;
  OpBuilder b(ctx);
  b.setInsertionPointToStart(module.getBody());
  auto func = func::FuncOp::create(b, module.getLoc(), name, type);
  func.setPrivate();
  func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), b.getUnitAttr());
  symbols.insert(func);
  return func;
}

Value RuntimeInterfaceLowering::unranked(OpBuilder &b, Location loc,
                                         Value tensor, bool readOnly) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  Value buffer =
      bufferization::ToBufferOp::create(b, loc, memrefType, tensor, readOnly);
  return memref::CastOp::create(
      b, loc, UnrankedMemRefType::get(type.getElementType(), 0), buffer);
}

void RuntimeInterfaceLowering::recordPool(StringAttr name,
                                          dg::KVCacheType cache) {
  Builder b(ctx);
  NamedAttrList pools;
  if (auto existing =
          module->getAttrOfType<DictionaryAttr>("dg.kv_cache_pools"))
    pools.append(existing.getValue());
  pools.set(
      name ? name.getValue() : "kv_cache",
      b.getDictionaryAttr(
          {b.getNamedAttr("kind", b.getStringAttr(
                                      dg::stringifyLayerKind(cache.getKind()))),
           b.getNamedAttr("layers", b.getI64IntegerAttr(cache.getNumLayers())),
           b.getNamedAttr("kv_heads",
                          b.getI64IntegerAttr(cache.getNumKvHeads())),
           b.getNamedAttr("head_dim", b.getI64IntegerAttr(cache.getHeadDim())),
           b.getNamedAttr("window", b.getI64IntegerAttr(cache.getWindow())),
           b.getNamedAttr("dtype", TypeAttr::get(cache.getElementType()))}));
  module->setAttr("dg.kv_cache_pools", pools.getDictionary(ctx));
}

LogicalResult RuntimeInterfaceLowering::lowerGraph(func::FuncOp func) {
  OpBuilder b(ctx);
  Location loc = func.getLoc();
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();

  // The weight arena comes first; caches become opaque handles.
  Type arenaType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
  if (failed(func.insertArgument(0, arenaType,
                                 b.getDictionaryAttr(b.getNamedAttr(
                                     "dg.name", b.getStringAttr("weights"))),
                                 loc)))
    return failure();
  Value arena = func.getArgument(0);
  DenseMap<Value, Type> cacheElementTypes;
  for (BlockArgument arg : func.getArguments()) {
    if (auto cache = dyn_cast<dg::KVCacheType>(arg.getType())) {
      cacheElementTypes[arg] = cache.getElementType();
      recordPool(
          func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "dg.name"),
          cache);
      arg.setType(ptr);
    }
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
    b.setInsertionPoint(op);
    Location l = op.getLoc();
    Type element = cacheElementTypes.lookup(op.getCache());
    Type values = UnrankedMemRefType::get(element, 0);
    Type ints = UnrankedMemRefType::get(i32, 0);
    func::FuncOp callee = runtimeFunction(
        "dgc_kv_cache_write_" + typeSuffix(element),
        b.getFunctionType({ptr, i64, values, values, ints, i32}, {}));
    Value layer = arith::ConstantIntOp::create(b, l, i64, op.getLayer());
    Value scratch = arith::ConstantIntOp::create(b, l, i32, op.getScratch());
    func::CallOp::create(
        b, l, callee,
        ValueRange{op.getCache(), layer, unranked(b, l, op.getKey(), true),
                   unranked(b, l, op.getValue(), true),
                   unranked(b, l, op.getPositions(), true), scratch});
    toErase.push_back(op);
  });

  func.walk([&](dg::KVCacheReadOp op) {
    b.setInsertionPoint(op);
    Location l = op.getLoc();
    Type element = cacheElementTypes.lookup(op.getCache());
    Type values = UnrankedMemRefType::get(element, 0);
    Type ints = UnrankedMemRefType::get(i32, 0);
    Value lengths = unranked(b, l, op.getLengths(), true);
    // The runtime says how many rows the batch reads (the longest request).
    func::FuncOp rowsFn = runtimeFunction(
        "dgc_kv_cache_rows", b.getFunctionType({ptr, ints}, {i64}));
    Value rows =
        func::CallOp::create(b, l, rowsFn, ValueRange{op.getCache(), lengths})
            .getResult(0);
    rows = arith::IndexCastOp::create(b, l, b.getIndexType(), rows);
    Value batch = tensor::DimOp::create(b, l, op.getLengths(), 0);
    auto alloc = [&](Value result) {
      auto type = cast<RankedTensorType>(result.getType());
      SmallVector<Value> sizes;
      if (type.isDynamicDim(0))
        sizes.push_back(batch);
      if (type.isDynamicDim(1))
        sizes.push_back(rows);
      return memref::AllocOp::create(
          b, l, MemRefType::get(type.getShape(), type.getElementType()), sizes);
    };
    Value keys = alloc(op.getKeys()), vals = alloc(op.getValues()),
          positions = alloc(op.getPositions());
    func::FuncOp readFn = runtimeFunction(
        "dgc_kv_cache_read_" + typeSuffix(element),
        b.getFunctionType({ptr, i64, ints, values, values, ints}, {}));
    auto toUnranked = [&](Value buffer) -> Value {
      auto type = llvm::cast<MemRefType>(buffer.getType());
      return memref::CastOp::create(
          b, l, UnrankedMemRefType::get(type.getElementType(), 0), buffer);
    };
    Value layer = arith::ConstantIntOp::create(b, l, i64, op.getLayer());
    func::CallOp::create(b, l, readFn,
                         ValueRange{op.getCache(), layer, lengths,
                                    toUnranked(keys), toUnranked(vals),
                                    toUnranked(positions)});
    SmallVector<Value> results, buffers = {keys, vals, positions};
    for (auto [buffer, result] : llvm::zip(buffers, op.getResults()))
      results.push_back(bufferization::ToTensorOp::create(
          b, l, result.getType(), buffer, /*restrict=*/true,
          /*writable=*/true));
    op.replaceAllUsesWith(results);
    toErase.push_back(op);
  });

  for (Operation *op : toErase)
    op->erase();
  return success();
}

LogicalResult RuntimeInterfaceLowering::run() {
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

struct LowerDgRuntimeInterfacePass
    : impl::LowerDgRuntimeInterfaceBase<LowerDgRuntimeInterfacePass> {
  void runOnOperation() override {
    if (failed(RuntimeInterfaceLowering(getOperation()).run()))
      signalPassFailure();
  }
};

} // namespace
} // namespace dgc
