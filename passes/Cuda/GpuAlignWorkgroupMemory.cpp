//===- GpuAlignWorkgroupMemory.cpp - 16-byte aligned shared tiles ---------===//
//
// Shared tiles are written with 16-byte vector stores (the kernels' staging
// of operands); their arrays must start 16-byte aligned whatever else the
// kernel declares in shared memory.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUALIGNWORKGROUPMEMORY
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kVectorBytes = 16;

struct GpuAlignWorkgroupMemory
    : impl::DgGpuAlignWorkgroupMemoryBase<GpuAlignWorkgroupMemory> {
  void runOnOperation() override {
    Builder b(&getContext());
    StringAttr align = b.getStringAttr(LLVM::LLVMDialect::getAlignAttrName());
    getOperation().walk([&](gpu::GPUFuncOp func) {
      for (unsigned i = 0; i < func.getNumWorkgroupAttributions(); ++i) {
        auto given = dyn_cast_or_null<IntegerAttr>(
            func.getWorkgroupAttributionAttr(i, align));
        if (!given || given.getInt() < kVectorBytes)
          func.setWorkgroupAttributionAttr(i, align,
                                           b.getI64IntegerAttr(kVectorBytes));
      }
    });
  }
};

} // namespace
} // namespace dgc
