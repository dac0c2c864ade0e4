//===- CudaPipeline.cpp - The CUDA target's pass order, in one place ------===//
//
// Each stage is a textual pipeline, so any step can be replayed with dgc-opt.
// The kernels this gives are the correct, general baseline: one thread per
// element of a parallel loop nest, reductions sequential inside a thread.
//
//===----------------------------------------------------------------------===//

#include "dgc/CudaTarget.h"

#include "PassProgress.h"

#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdlib>

using namespace mlir;

namespace dgc {

namespace {
struct Stage {
  CudaStage stage;
  const char *name;
};
const Stage kStages[] = {
    {CudaStage::Linalg, "linalg"},    {CudaStage::RuntimeAbi, "abi"},
    {CudaStage::Buffers, "buffers"},  {CudaStage::Gpu, "gpu"},
    {CudaStage::LLVMDialect, "llvm"}, {CudaStage::Ptx, "ptx"},
};

std::string stagePipeline(CudaStage stage, const CudaOptions &o) {
  switch (stage) {
  case CudaStage::Linalg:
    return llvm::formatv(
        "convert-dg-to-linalg{{moe-group-rows={0} flash-attention=true "
        "sample-candidates={1}},canonicalize,cse,"
        "dg-fuse-elementwise,canonicalize",
        o.moeGroupRows, o.sampleCandidates);
  case CudaStage::RuntimeAbi:
    // cse: the layers of one cache share their positions, and so masks.
    return "convert-dg-to-runtime-abi,cse";
  case CudaStage::Buffers:
    // A result that views a buffer is returned as a clone: a copy.
    return "one-shot-bufferize{bufferize-function-boundaries "
           "function-boundary-type-conversion=identity-layout-map},"
           "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
           "canonicalize";
  case CudaStage::Gpu:
    return llvm::formatv(
        "dg-gpu-managed-memory,"
        "func.func(dg-gpu-flash-attention,dg-gpu-top-k,dg-gpu-device-copies,"
        "dg-gpu-tensor-core-contractions{{wide-columns={1} stages={2}},"
        "dg-gpu-block-reductions,dg-register-reductions{{parallel-only=true},"
        "dg-fold-reduction-inits,"
        "convert-linalg-to-parallel-loops,"
        "dg-gpu-tile-parallel-loops{{threads={0}},"
        "gpu-map-parallel-loops{{mapping-policy=innermost-first},"
        "convert-parallel-loops-to-gpu,"
        "gpu-launch-sink-index-computations),"
        "gpu-kernel-outlining,dg-gpu-name-kernels,canonicalize,"
        "gpu.module(dg-gpu-align-workgroup-memory),dg-gpu-device-buffers,"
        "func.func(dg-gpu-async-launches)",
        o.threads, o.gemmWideColumns, o.gemmStages);
  case CudaStage::LLVMDialect:
    // Host loops as on the host target; kernels through NVVM to PTX (math
    // ops inside kernels become PTX approximations or libdevice, linked by
    // dg-gpu-modules-to-binaries, on every core; the nvgpu async copies
    // lower first, while their operands are still memrefs); launches become
    // mgpu* calls. The layers' kernels repeat: each is compiled once.
    return llvm::formatv(
        "dg-merge-identical-functions,convert-linalg-to-loops,arith-expand{{include-bf16=true},"
        "expand-strided-metadata,lower-affine,convert-scf-to-cf,canonicalize,"
        "nvvm-attach-target{{chip={0} features={1} O={2}},"
        "gpu.module(convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,canonicalize,"
        "reconcile-unrealized-casts),"
        "gpu-to-llvm,dg-gpu-modules-to-binaries{{toolkit={3}},"
        "convert-math-to-llvm,convert-math-to-libm,finalize-memref-to-llvm,"
        "convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,"
        "convert-cf-to-llvm,reconcile-unrealized-casts",
        o.chip, o.features, o.optLevel, o.toolkitPath);
  case CudaStage::Ptx:
    return "";
  }
  return "";
}
} // namespace

std::string findCudaToolkit(const std::string &requested, std::string &error) {
  std::vector<std::string> candidates;
  if (!requested.empty()) {
    candidates.push_back(requested);
  } else {
    for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
      if (const char *value = std::getenv(var); value && *value)
        candidates.push_back(value);
    candidates.push_back("/usr/local/cuda");
  }
  for (const std::string &dir : candidates)
    if (llvm::sys::fs::exists(dir + "/nvvm/libdevice/libdevice.10.bc"))
      return dir;
  error =
      "no CUDA toolkit with libdevice (nvvm/libdevice/libdevice.10.bc) in " +
      llvm::join(candidates, ", ") +
      ": install the CUDA toolkit or pass --cuda-path";
  return "";
}

bool parseCudaStage(StringRef name, CudaStage &stage) {
  for (const Stage &s : kStages)
    if (name == s.name) {
      stage = s.stage;
      return true;
    }
  return false;
}

const char *cudaStageNames() { return "linalg, abi, buffers, gpu, llvm, ptx"; }

LogicalResult runCudaPipeline(ModuleOp module, CudaStage first, CudaStage last,
                              const CudaOptions &options) {
  PassManager pm(module.getContext());
  for (const Stage &s : kStages) {
    if (s.stage < first)
      continue;
    std::string pipeline = stagePipeline(s.stage, options);
    if (!pipeline.empty() && failed(parsePassPipeline(pipeline, pm)))
      return module.emitError() << "bad pipeline of stage " << s.name;
    if (s.stage == last)
      break;
  }
  addPassProgress(pm);
  return pm.run(module);
}

std::vector<std::pair<std::string, std::string>>
collectKernelPtx(ModuleOp module) {
  std::vector<std::pair<std::string, std::string>> kernels;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        kernels.emplace_back(binary.getName().str(),
                             object.getObject().getValue().str());
  });
  return kernels;
}

} // namespace dgc
