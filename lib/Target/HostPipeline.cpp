//===- HostPipeline.cpp - The host target's pass order, in one place ------===//

#include "dgc/HostTarget.h"

#include "HostCpu.h"
#include "PassProgress.h"

#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;

namespace dgc {

namespace {
struct Stage {
  HostStage stage;
  const char *name;
  const char *pipeline;
};

// Each stage is ordinary textual pass pipeline, so any step can be replayed
// with dgc-opt.
const Stage kStages[] = {
    {HostStage::Linalg, "linalg",
     "convert-dg-to-linalg{moe-group-rows=%d sample-candidates=%c},"
     "canonicalize,cse,"
     "dg-fuse-elementwise,canonicalize"},
    // cse: the layers of one cache share their positions, and so masks.
    {HostStage::RuntimeAbi, "abi", "convert-dg-to-runtime-abi,cse"},
    {HostStage::Buffers, "buffers",
     "one-shot-bufferize{bufferize-function-boundaries "
     "function-boundary-type-conversion=identity-layout-map},"
     // A result that views a buffer is returned as a clone: a copy.
     "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
     "canonicalize,"
     // The GEMMs as register tiles of FMAs sized to the CPU's registers,
     // top-k in one pass per row, the elementwise ops and row reductions in
     // vector lanes, the other row reductions in registers, and tanh and exp
     // as arithmetic (log stays libm's: the Gumbel draw's are scalar, where
     // libm's are faster).
     "func.func(dg-host-vector-contractions{vector-registers=%r},"
     "dg-host-top-k,"
     "dg-host-vectorize-rows,dg-register-reductions,"
     "dg-host-polynomial-math{ops=tanh,exp})"},
    {HostStage::Loops, "loops",
     // bf16 <-> f32 conversions become integer bit operations: no
     // dependence on a libgcc that has __truncsfbf2.
     // A reduction's constant start goes into its loops (no fill pass).
     "func.func(dg-fold-reduction-inits,convert-linalg-to-loops,"
     "arith-expand{include-bf16=true},expand-strided-metadata,lower-affine),"
     // LLVM's cost grows with the largest function: one per loop nest,
     // and one copy of the nests the layers repeat.
     "dg-host-outline-loop-nests,dg-merge-identical-functions,"
     // From here on, passes that work within a function run on the
     // functions in parallel.
     "func.func(convert-scf-to-cf,canonicalize)"},
    {HostStage::LLVMDialect, "llvm",
     "func.func(convert-vector-to-llvm,convert-math-to-llvm,"
     "convert-arith-to-llvm,convert-index-to-llvm),"
     "convert-math-to-libm,finalize-memref-to-llvm,convert-func-to-llvm,"
     "convert-cf-to-llvm,reconcile-unrealized-casts,"
     // The large parallel nests' calls, through the runtime's threads.
     "dg-host-parallel-dispatch"},
};
} // namespace

bool parseHostStage(StringRef name, HostStage &stage) {
  if (name == "llvm-ir") {
    stage = HostStage::LLVMIR;
    return true;
  }
  for (const Stage &s : kStages)
    if (name == s.name) {
      stage = s.stage;
      return true;
    }
  return false;
}

LogicalResult runFusion(ModuleOp module) {
  PassManager pm(module.getContext());
  buildFusionPipeline(pm);
  return pm.run(module);
}

const char *hostStageNames() {
  return "linalg, abi, buffers, loops, llvm, llvm-ir";
}

LogicalResult runHostPipeline(ModuleOp module, HostStage first, HostStage last,
                              const HostOptions &options) {
  // The tiles follow the CPU the code is compiled for.
  std::string error;
  std::optional<HostCpu> cpu = resolveHostCpu(options.cpu, error);
  if (!cpu)
    return module.emitError() << error;
  int64_t groupRows = options.moeGroupRows
                          ? options.moeGroupRows
                          : hostContractionTileRows(cpu->vectorRegisters);
  auto substitute = [](std::string &pipeline, const char *key, int64_t value) {
    if (size_t at = pipeline.find(key); at != std::string::npos)
      pipeline.replace(at, 2, std::to_string(value));
  };
  PassManager pm(module.getContext());
  for (const Stage &s : kStages) {
    if (s.stage < first)
      continue;
    std::string pipeline = s.pipeline;
    substitute(pipeline, "%d", groupRows);
    substitute(pipeline, "%c", options.sampleCandidates);
    substitute(pipeline, "%r", cpu->vectorRegisters);
    if (failed(parsePassPipeline(pipeline, pm)))
      return module.emitError() << "bad pipeline of stage " << s.name;
    if (s.stage == last)
      break;
  }
  addPassProgress(pm);
  return pm.run(module);
}

} // namespace dgc
