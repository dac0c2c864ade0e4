//===- GraphBuilder.h - DiffusionGemma config -> dg module ------*- C++ -*-===//
//
// Builds the model's graphs from a validated config, with primitive dg ops,
// unfused, following the model's math step by step:
//
//   @encoder  causal prefill and canvas commit; writes the KV cache
//   @decoder  one denoise step over a batch of canvases
//   @vision   image patches -> soft tokens (when the config has a vision tower)
//
// Token count, batch of canvases and context length stay dynamic.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_GRAPHBUILDER_H
#define DGC_GRAPHBUILDER_H

#include "dgc/Config.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace dgc {

struct BuildOptions {
  /// Element type the graphs compute with: "bfloat16", "float16", "float32",
  /// or empty for the checkpoint's dtype.
  std::string dtype;
  bool encoder = true;
  bool decoder = true;
  /// Only when the config has a vision_config.
  bool vision = true;
};

/// Loads every dialect the built module uses into `context`.
void loadBuilderDialects(mlir::MLIRContext &context);

/// Builds and verifies the module. Returns null (after emitting diagnostics)
/// only if the result fails to verify, which is a bug of the builder.
mlir::OwningOpRef<mlir::ModuleOp> buildModel(mlir::MLIRContext &context,
                                             const ModelConfig &config,
                                             const GenerationConfig &generation,
                                             const BuildOptions &options);

/// A readable account of a built module: each graph's named inputs and
/// outputs, its KV-cache pools, weights and op counts, and the checkpoint's
/// size and KV bytes per token.
std::string summarizeModule(mlir::ModuleOp module);

} // namespace dgc

#endif // DGC_GRAPHBUILDER_H
