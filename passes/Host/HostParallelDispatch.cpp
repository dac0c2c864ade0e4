//===- HostParallelDispatch.cpp - Chunked loop nests shared among threads -===//
//
// dg-host-outline-loop-nests leaves each large parallel nest as a function
// of a range of its iterations, `@f(begin, end, args...)`, called once for
// the whole range. Here, on the LLVM dialect where every argument is a plain
// value, each such call stores its arguments in a context on the stack and
// hands `@f_chunk(context, first, last)` to the runtime's thread pool
// through the library's variable `dgc_parallel_for` (ModuleFormat.h). A
// library loaded by anything else leaves the variable null, and the nest
// runs whole on the calling thread, as before.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"
#include "passes/Passes.h"

#include "dgc/runtime/ModuleFormat.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTPARALLELDISPATCH
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// The signature of a chunk and of the pool's entry point.
struct Signatures {
  Type ptr, i64;
  LLVM::LLVMFunctionType chunk, parallelFor;
};

/// `@dgc_parallel_for`: a null pointer until the runtime sets it.
void declareParallelFor(ModuleOp module, const Signatures &types) {
  if (module.lookupSymbol(runtime::kParallelForSymbol))
    return;
  OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
  Location loc = module.getLoc();
  auto global = LLVM::GlobalOp::create(
      builder, loc, types.ptr, /*isConstant=*/false, LLVM::Linkage::External,
      runtime::kParallelForSymbol, Attribute());
  Block *init = builder.createBlock(&global.getInitializerRegion());
  builder.setInsertionPointToStart(init);
  LLVM::ReturnOp::create(builder, loc,
                         LLVM::ZeroOp::create(builder, loc, types.ptr));
}

/// `@<f>_chunk(context, first, last)`: calls `f(begin + first, begin + last,
/// args...)` with begin and the arguments read from `context`.
LLVM::LLVMFuncOp buildChunk(LLVM::LLVMFuncOp f, LLVM::LLVMStructType context,
                            const Signatures &types, SymbolTable &symbols) {
  OpBuilder builder(f);
  builder.setInsertionPointAfter(f);
  Location loc = f.getLoc();
  auto chunk =
      LLVM::LLVMFuncOp::create(builder, loc, (f.getName() + "_chunk").str(),
                               types.chunk, LLVM::Linkage::Internal);
  symbols.insert(chunk);
  Block *body = chunk.addEntryBlock(builder);
  builder.setInsertionPointToStart(body);
  Value state = body->getArgument(0);
  SmallVector<Value> fields;
  for (auto [i, type] : llvm::enumerate(context.getBody())) {
    Value at = LLVM::GEPOp::create(builder, loc, types.ptr, context, state,
                                   ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
    fields.push_back(LLVM::LoadOp::create(builder, loc, type, at));
  }
  SmallVector<Value> arguments = {
      LLVM::AddOp::create(builder, loc, fields[0], body->getArgument(1)),
      LLVM::AddOp::create(builder, loc, fields[0], body->getArgument(2))};
  arguments.append(fields.begin() + 1, fields.end());
  LLVM::CallOp::create(builder, loc, f, arguments);
  LLVM::ReturnOp::create(builder, loc, ValueRange());
  return chunk;
}

/// Replaces `call` (begin, end, args...) by a fork over [0, end - begin):
/// through `dgc_parallel_for` when set, else the chunk over it all.
void dispatch(LLVM::CallOp call, LLVM::LLVMFuncOp chunk,
              LLVM::LLVMStructType context, const Signatures &types) {
  Location loc = call.getLoc();
  auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
  OpBuilder builder = OpBuilder::atBlockBegin(&caller.getBody().front());
  Value one = LLVM::ConstantOp::create(builder, loc, types.i64,
                                       builder.getI64IntegerAttr(1));
  // In the entry block: one slot for the whole graph call, however many
  // times the block that forks runs.
  Value state = LLVM::AllocaOp::create(builder, loc, types.ptr, context, one);

  builder.setInsertionPoint(call);
  ValueRange operands = call.getArgOperands();
  SmallVector<Value> fields = {operands[0]};
  fields.append(operands.begin() + 2, operands.end());
  for (auto [i, value] : llvm::enumerate(fields)) {
    Value at = LLVM::GEPOp::create(builder, loc, types.ptr, context, state,
                                   ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
    LLVM::StoreOp::create(builder, loc, value, at);
  }
  Value count = LLVM::SubOp::create(builder, loc, operands[1], operands[0]);
  Value body =
      LLVM::AddressOfOp::create(builder, loc, types.ptr, chunk.getName());
  Value slot = LLVM::AddressOfOp::create(builder, loc, types.ptr,
                                         runtime::kParallelForSymbol);
  Value parallelFor = LLVM::LoadOp::create(builder, loc, types.ptr, slot);
  Value none =
      LLVM::ICmpOp::create(builder, loc, LLVM::ICmpPredicate::eq, parallelFor,
                           LLVM::ZeroOp::create(builder, loc, types.ptr));

  Block *before = call->getBlock();
  Block *after = before->splitBlock(call);
  Block *alone = builder.createBlock(after);
  Block *forked = builder.createBlock(after);
  builder.setInsertionPointToEnd(before);
  Value zero = LLVM::ConstantOp::create(builder, loc, types.i64,
                                        builder.getI64IntegerAttr(0));
  LLVM::CondBrOp::create(builder, loc, none, alone, forked);
  builder.setInsertionPointToStart(alone);
  LLVM::CallOp::create(builder, loc, chunk, ValueRange{state, zero, count});
  LLVM::BrOp::create(builder, loc, after);
  builder.setInsertionPointToStart(forked);
  LLVM::CallOp::create(builder, loc, types.parallelFor,
                       ValueRange{parallelFor, body, state, count});
  LLVM::BrOp::create(builder, loc, after);
  call.erase();
}

struct DgHostParallelDispatch
    : impl::DgHostParallelDispatchBase<DgHostParallelDispatch> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Signatures types;
    types.ptr = LLVM::LLVMPointerType::get(ctx);
    types.i64 = IntegerType::get(ctx, 64);
    Type none = LLVM::LLVMVoidType::get(ctx);
    types.chunk =
        LLVM::LLVMFunctionType::get(none, {types.ptr, types.i64, types.i64});
    types.parallelFor =
        LLVM::LLVMFunctionType::get(none, {types.ptr, types.ptr, types.i64});

    SymbolTable symbols(module);
    llvm::MapVector<StringRef, LLVM::LLVMFuncOp> chunked;
    for (auto f : module.getOps<LLVM::LLVMFuncOp>()) {
      if (!f->hasAttr(dg::kParallelChunksAttrName))
        continue;
      ArrayRef<Type> parameters = f.getFunctionType().getParams();
      if (parameters.size() < 2 || parameters[0] != types.i64 ||
          parameters[1] != types.i64 ||
          !isa<LLVM::LLVMVoidType>(f.getFunctionType().getReturnType())) {
        f.emitError() << "a function marked " << dg::kParallelChunksAttrName
                      << " must take (i64 begin, i64 end, ...) and return "
                         "nothing";
        return signalPassFailure();
      }
      chunked[f.getName()] = f;
    }
    // One walk for all: a graph has hundreds of nests.
    llvm::MapVector<StringRef, SmallVector<LLVM::CallOp>> calls;
    module.walk([&](LLVM::CallOp call) {
      if (std::optional<StringRef> callee = call.getCallee())
        if (chunked.contains(*callee))
          calls[*callee].push_back(call);
    });
    for (auto &[name, sites] : calls) {
      LLVM::LLVMFuncOp f = chunked[name];
      SmallVector<Type> fields = {types.i64};
      llvm::append_range(fields, f.getFunctionType().getParams().drop_front(2));
      auto context = LLVM::LLVMStructType::getLiteral(ctx, fields);
      declareParallelFor(module, types);
      LLVM::LLVMFuncOp chunk = buildChunk(f, context, types, symbols);
      for (LLVM::CallOp call : sites)
        dispatch(call, chunk, context, types);
    }
  }
};

} // namespace
} // namespace dgc
