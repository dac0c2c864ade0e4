//===- GpuModulesToBinaries.cpp - Kernels to PTX, on every core -----------===//
//
// gpu-kernel-outlining gives each kernel a gpu.module of its own, and a
// model has hundreds to thousands of kernels; upstream's
// gpu-module-to-binary serialises them one after another, each through LLVM
// (libdevice linked, NVPTX code generation). The modules are independent:
// here they are serialised on the MLIRContext's threads, then each is
// replaced by its gpu.binary in order, as upstream does, so that the PTX is
// the same.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Threading.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUMODULESTOBINARIES
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// The objects of one module, one per target, or why there are none.
LogicalResult serialize(gpu::GPUModuleOp module,
                        const gpu::TargetOptions &options,
                        SmallVector<Attribute> &objects) {
  if (!module.getTargetsAttr())
    return module.emitError("the module has no target attributes");
  for (Attribute attribute : module.getTargetsAttr()) {
    auto target = cast<gpu::TargetAttrInterface>(attribute);
    std::optional<SmallVector<char, 0>> code =
        target.serializeToObject(module, options);
    if (!code)
      return module.emitError("serializing the module failed");
    Attribute object = target.createObject(module, *code, options);
    if (!object)
      return module.emitError("creating the module's object failed");
    objects.push_back(object);
  }
  return success();
}

struct DgGpuModulesToBinaries
    : impl::DgGpuModulesToBinariesBase<DgGpuModulesToBinaries> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp top = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<gpu::GPUModuleOp> modules(top.getOps<gpu::GPUModuleOp>());
    // Built before the threads start: a target may look symbols up.
    SymbolTable symbols(top);
    gpu::TargetOptions options(
        toolkit, /*librariesToLink=*/{}, /*cmdOptions=*/{},
        /*elfSection=*/{}, gpu::CompilationTarget::Assembly,
        [&]() -> SymbolTable * { return &symbols; });

    std::vector<SmallVector<Attribute>> objects(modules.size());
    ParallelDiagnosticHandler diagnostics(ctx);
    LogicalResult serialized =
        failableParallelForEachN(ctx, 0, modules.size(), [&](size_t i) {
          diagnostics.setOrderIDForThread(i);
          LogicalResult result = serialize(modules[i], options, objects[i]);
          diagnostics.eraseOrderIDForThread();
          return result;
        });
    if (failed(serialized))
      return signalPassFailure();

    OpBuilder builder(ctx);
    for (auto [module, moduleObjects] : llvm::zip(modules, objects)) {
      builder.setInsertionPointAfter(module);
      auto handler =
          dyn_cast_or_null<gpu::OffloadingLLVMTranslationAttrInterface>(
              module.getOffloadingHandlerAttr());
      gpu::BinaryOp::create(builder, module.getLoc(), module.getName(), handler,
                            builder.getArrayAttr(moduleObjects));
      module->erase();
    }
  }
};

} // namespace
} // namespace dgc
