//===- GpuDeviceBuffers.cpp - Buffers only kernels touch live on the GPU --===//
//
// dg-gpu-managed-memory makes every buffer CUDA managed memory, since before
// the loops are mapped nobody knows which ops stay on the host. Once the
// kernels are outlined it is known: a buffer whose every use (through views)
// is a kernel's operand, its release, or a read of its shape, is never
// touched by the host, and plain device memory serves it without page
// migration. Such allocations lose `host_shared`.
//
// Returning a buffer counts as a kernel's use: the runtime copies results
// out after the graph's closing wait. Graph arguments get the same test:
// one only kernels read is marked `dg.device_only`, and so is a result in
// device memory; the manifest passes the marks on, so the runtime can keep
// the weight arena, the inputs and the KV-cache pools in device memory.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"
#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUDEVICEBUFFERS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Whether every use of `buffer`, through the views cut from it, is a
/// kernel operand, a release, a read of its shape, or the graph's return.
bool onlyKernelsTouch(Value buffer) {
  SmallVector<Value> pending{buffer};
  while (!pending.empty()) {
    Value v = pending.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto launch = dyn_cast<gpu::LaunchFuncOp>(user)) {
        if (llvm::is_contained(launch.getKernelOperands(), v))
          continue;
        return false;
      }
      if (isa<gpu::DeallocOp, memref::DimOp, memref::ExtractStridedMetadataOp,
              func::ReturnOp>(user))
        continue;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
        if (view.getViewSource() != v)
          return false; // an operand other than the source (sizes, shape)
        pending.push_back(user->getResult(0));
        continue;
      }
      return false; // host loads, stores, copies, calls
    }
  }
  return true;
}

/// Replaces a managed allocation with a device one. gpu-to-llvm lowers only
/// the asynchronous form of those: on a fresh stream, waited for, as
/// deallocManaged() frees; dg-gpu-async-launches then queues it with the
/// kernels around it instead of waiting.
void allocOnDevice(gpu::AllocOp alloc) {
  OpBuilder b(alloc);
  Location loc = alloc.getLoc();
  auto tokenType = gpu::AsyncTokenType::get(b.getContext());
  Value start =
      gpu::WaitOp::create(b, loc, tokenType, ValueRange()).getAsyncToken();
  auto device = gpu::AllocOp::create(
      b, loc, alloc.getType(), tokenType, ValueRange{start},
      alloc.getDynamicSizes(), alloc.getSymbolOperands(), /*hostShared=*/false);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{device.getAsyncToken()});
  alloc.getMemref().replaceAllUsesWith(device.getMemref());
  alloc.erase();
}

/// Whether `result` is cut from device memory: an allocation without
/// `host_shared`, or an argument only kernels read.
bool inDeviceMemory(func::FuncOp func, Value result) {
  Value root = viewRoot(result);
  if (auto alloc = root.getDefiningOp<gpu::AllocOp>())
    return !alloc.getHostShared();
  auto arg = dyn_cast<BlockArgument>(root);
  return arg && arg.getOwner()->getParentOp() == func &&
         func.getArgAttr(arg.getArgNumber(), dg::kDeviceOnlyAttrName);
}

struct GpuDeviceBuffers : impl::DgGpuDeviceBuffersBase<GpuDeviceBuffers> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      SmallVector<gpu::AllocOp> moved;
      func.walk([&](gpu::AllocOp alloc) {
        if (alloc.getHostShared() && !alloc.getAsyncToken() &&
            onlyKernelsTouch(alloc.getMemref()))
          moved.push_back(alloc);
      });
      for (gpu::AllocOp alloc : moved)
        allocOnDevice(alloc);
      for (BlockArgument arg : func.getArguments())
        if (isa<MemRefType>(arg.getType()) && onlyKernelsTouch(arg))
          func.setArgAttr(arg.getArgNumber(), dg::kDeviceOnlyAttrName,
                          UnitAttr::get(ctx));
      func.walk([&](func::ReturnOp ret) {
        for (auto [i, result] : llvm::enumerate(ret.getOperands()))
          if (inDeviceMemory(func, result))
            func.setResultAttr(i, dg::kDeviceOnlyAttrName, UnitAttr::get(ctx));
      });
    }
  }
};

} // namespace
} // namespace dgc
