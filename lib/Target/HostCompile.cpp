//===- HostCompile.cpp - dg graphs -> host.so -----------------------------===//

#include "dgc/HostTarget.h"

#include "SharedObject.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace dgc {

LogicalResult printLLVMIR(ModuleOp module, llvm::raw_ostream &os) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return failure();
  llvmModule->print(os, nullptr);
  return success();
}

LogicalResult compileForHost(ModuleOp module, const std::string &outputDir,
                             std::string &error, llvm::raw_ostream *progress,
                             const HostOptions &options) {
  std::optional<HostCpu> cpu = resolveHostCpu(options.cpu, error);
  if (!cpu)
    return failure();
  StageClock clock(progress);
  if (failed(runHostPipeline(module, HostStage::Linalg, HostStage::RuntimeAbi,
                             options)))
    return failure();
  clock.done("linalg+abi");
  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    error = "cannot create " + outputDir + ": " + ec.message();
    return failure();
  }
  ManifestTarget host{"host", "host.so", "", false, "", {}};
  host.cpu = cpu->name;
  host.cpuFeatures = cpu->requiredFlags;
  std::string manifest = buildManifest(module, {host});
  if (failed(runHostPipeline(module, HostStage::Buffers, HostStage::LLVMDialect,
                             options)))
    return failure();
  clock.done("to-llvm");

  return writeModuleDirectory(module, outputDir, "host.so", manifest, *cpu,
                              CodeQuality::Fastest, error, clock);
}

} // namespace dgc
