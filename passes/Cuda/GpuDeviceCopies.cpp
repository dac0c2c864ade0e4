//===- GpuDeviceCopies.cpp - Copies between GPU buffers run on the GPU ----===//
//
// Bufferization leaves memref.copy between buffers (a slice into its place,
// a value kept past an in-place update). On the host such a copy makes the
// CPU wait for every kernel before it and pulls the managed pages to host
// memory, from where the next kernel faults them back. As linalg.copy it
// becomes one more kernel in the stream.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUDEVICECOPIES
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Whether kernels can read and write `v`: a view of a gpu.alloc or of an
/// argument of the function (the runtime passes device-visible buffers).
bool onDevice(Value v) {
  v = viewRoot(v);
  if (auto arg = dyn_cast<BlockArgument>(v))
    return isa<func::FuncOp>(arg.getOwner()->getParentOp());
  return v.getDefiningOp<gpu::AllocOp>() != nullptr;
}

struct GpuDeviceCopies : impl::DgGpuDeviceCopiesBase<GpuDeviceCopies> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (!copy->getParentOfType<gpu::LaunchOp>() &&
          onDevice(copy.getSource()) && onDevice(copy.getTarget()))
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    }
  }
};

} // namespace
} // namespace dgc
