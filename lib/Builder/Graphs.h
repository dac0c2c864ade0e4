//===- Graphs.h - The builders of the three graphs ------------------------===//
//
// Internal to the graph builder.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_LIB_BUILDER_GRAPHS_H
#define DGC_LIB_BUILDER_GRAPHS_H

#include "GraphEmitter.h"
#include "dgc/Config.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace dgc {

/// Number of most likely tokens the decoder step reports per position.
constexpr int64_t kDecoderTopK = 64;

/// Creates `@name(inputs) -> outputs` at the end of `module`, with the names
/// as argument and result attributes, and positions the emitter inside it.
mlir::func::FuncOp
createGraph(GraphEmitter &e, mlir::ModuleOp module, llvm::StringRef name,
            llvm::ArrayRef<std::pair<llvm::StringRef, mlir::Type>> inputs,
            llvm::ArrayRef<std::pair<llvm::StringRef, mlir::Type>> outputs);

void buildEncoderGraph(GraphEmitter &e, mlir::ModuleOp module,
                       const ModelConfig &config);
void buildDecoderGraph(GraphEmitter &e, mlir::ModuleOp module,
                       const ModelConfig &config);
void buildVisionGraph(GraphEmitter &e, mlir::ModuleOp module,
                      const ModelConfig &config);

} // namespace dgc

#endif // DGC_LIB_BUILDER_GRAPHS_H
