//===- BufferUtils.cpp - Small helpers shared by the passes on buffers ----===//

#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

namespace dgc {

SmallVector<Value> loopSizes(OpBuilder &b, Location loc, linalg::GenericOp op) {
  SmallVector<Value> sizes(op.getNumLoops());
  for (auto [operand, map] :
       llvm::zip(op->getOperands(), op.getIndexingMapsArray()))
    for (unsigned r = 0; r < map.getNumResults(); ++r) {
      auto dim = dyn_cast<AffineDimExpr>(map.getResult(r));
      if (dim && !sizes[dim.getPosition()]) {
        int64_t size = cast<MemRefType>(operand.getType()).getDimSize(r);
        sizes[dim.getPosition()] =
            ShapedType::isDynamic(size)
                ? Value(memref::DimOp::create(b, loc, operand, r))
                : Value(arith::ConstantIndexOp::create(b, loc, size));
      }
    }
  return sizes;
}

gpu::AllocOp allocManaged(OpBuilder &b, Location loc, MemRefType type,
                          ValueRange dynamicSizes) {
  return gpu::AllocOp::create(b, loc, type, /*asyncToken=*/Type(),
                              /*asyncDependencies=*/ValueRange(),
                              dynamicSizes, /*symbolOperands=*/ValueRange(),
                              /*hostShared=*/true);
}

void deallocManaged(OpBuilder &b, Location loc, Value memref) {
  auto tokenType = gpu::AsyncTokenType::get(b.getContext());
  Value start = gpu::WaitOp::create(b, loc, tokenType, ValueRange())
                    .getAsyncToken();
  Value freed =
      gpu::DeallocOp::create(b, loc, tokenType, ValueRange{start}, memref)
          .getAsyncToken();
  gpu::WaitOp::create(b, loc, Type(), ValueRange{freed});
}

} // namespace dgc
