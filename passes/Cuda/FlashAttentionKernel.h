//===- FlashAttentionKernel.h - One block of the flash kernel ---*- C++ -*-===//
//
// The body of the flash-attention kernel for a bf16 dg.masked_attention on
// buffers (see FlashAttentionKernel.cpp for the algorithm); the pass
// (GpuFlashAttention.cpp) makes the launch around it.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_CUDA_FLASHATTENTIONKERNEL_H
#define DGC_PASSES_CUDA_FLASHATTENTIONKERNEL_H

#include "dg/DgDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

#include <array>

namespace dgc {

/// A block: 4 warps, 64 query rows of one head, 128 output columns.
inline constexpr int64_t kFlashThreads = 128, kFlashRows = 64,
                         kFlashSlice = 128;

/// The column slices of a head (the grid's x is query tiles x slices).
int64_t flashAttentionSlices(int64_t headDim);

/// The shared-memory tiles the launch must attribute, in order.
llvm::SmallVector<mlir::Type, 3>
flashAttentionSharedTiles(mlir::MLIRContext *ctx, int64_t headDim);

/// Builds, at the insertion point inside `launch` (grid: query tiles x
/// slices, heads, batch rows; kFlashThreads threads), the code with which
/// a block computes its part of `op`'s output. `queryCount` and `keyCount`
/// are T and S; `vectorRows` says whether q, keys and values may be read
/// 16 bytes at a time.
void buildFlashAttention(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::gpu::LaunchOp launch, dg::MaskedAttentionOp op,
                         mlir::Value queryCount, mlir::Value keyCount,
                         std::array<bool, 3> vectorRows);

} // namespace dgc

#endif // DGC_PASSES_CUDA_FLASHATTENTIONKERNEL_H
