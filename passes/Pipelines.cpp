//===- Pipelines.cpp - Named pass pipelines of dgc ------------------------===//

#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace dgc {

void buildFusionPipeline(mlir::OpPassManager &pm) {
  // MoE first: its router's top-k must not be mistaken for anything else.
  pm.addPass(createDgFuseAttention());
  pm.addPass(createDgFuseMoE());
  pm.addPass(createDgFuseSampling());
  pm.addPass(mlir::createCanonicalizerPass());
}

void registerDgcPipelines() {
  mlir::PassPipelineRegistration<>(
      "dg-fuse", "Run every dgc fusion pass in order, then canonicalize",
      buildFusionPipeline);
}

} // namespace dgc
