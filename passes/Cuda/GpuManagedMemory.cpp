//===- GpuManagedMemory.cpp - Buffers both the host and the GPU reach -----===//
//
// The first memory plan of the CUDA target: correctness before speed. Every
// data buffer becomes CUDA managed memory, so the host-side code between
// kernels (copies, loops left on the host, output reads) keeps working on
// the same bytes. A later plan keeps buffers on the device and moves the
// remaining host work into kernels.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUMANAGEDMEMORY
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Shape operands of reshapes are read on the host only.
bool isShapeBuffer(MemRefType type) {
  return isa<IndexType>(type.getElementType());
}

struct GpuManagedMemory : impl::DgGpuManagedMemoryBase<GpuManagedMemory> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      OpBuilder b(func.getContext());
      SmallVector<memref::AllocOp> allocs;
      SmallVector<memref::GetGlobalOp> globals;
      func.walk([&](Operation *op) {
        if (auto alloc = dyn_cast<memref::AllocOp>(op))
          if (!isShapeBuffer(alloc.getType()))
            allocs.push_back(alloc);
        if (auto global = dyn_cast<memref::GetGlobalOp>(op))
          globals.push_back(global);
      });
      for (memref::AllocOp alloc : allocs) {
        b.setInsertionPoint(alloc);
        auto managed = allocManaged(b, alloc.getLoc(), alloc.getType(),
                                    alloc.getDynamicSizes());
        for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
          if (auto dealloc = dyn_cast<memref::DeallocOp>(user)) {
            b.setInsertionPoint(dealloc);
            deallocManaged(b, dealloc.getLoc(), managed.getMemref());
            dealloc.erase();
          }
        alloc.getResult().replaceAllUsesWith(managed.getMemref());
        alloc.erase();
      }
      // A constant is copied into managed memory where it is used and freed
      // when the graph returns.
      for (memref::GetGlobalOp global : globals) {
        b.setInsertionPointAfter(global);
        auto type = cast<MemRefType>(global.getType());
        auto managed = allocManaged(b, global.getLoc(), type, ValueRange());
        memref::CopyOp::create(b, global.getLoc(), global.getResult(),
                               managed.getMemref());
        global.getResult().replaceAllUsesExcept(managed.getMemref(),
                                                managed->getNextNode());
        func.walk([&](func::ReturnOp ret) {
          b.setInsertionPoint(ret);
          deallocManaged(b, ret.getLoc(), managed.getMemref());
        });
      }
    }
  }
};

} // namespace
} // namespace dgc
