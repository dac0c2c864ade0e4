//===- CudaCompile.cpp - dg graphs -> cuda.so with embedded PTX -----------===//

#include "dgc/CudaTarget.h"
#include "dgc/HostTarget.h"

#include "dg/DgDialect.h"

#include "SharedObject.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

using namespace mlir;

namespace dgc {

namespace {
/// The host target of the module directory's manifest (written by the host
/// compile of --target all just before), its CPU requirements kept.
ManifestTarget hostTargetOf(const std::string &outputDir) {
  ManifestTarget host{"host", "host.so", "", false, "", {}};
  SmallString<256> path(outputDir);
  llvm::sys::path::append(path, "manifest.json");
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return host;
  auto doc = nlohmann::json::parse((*buffer)->getBuffer().str(), nullptr,
                                   /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("targets") ||
      !doc["targets"].contains("host"))
    return host;
  const nlohmann::json &entry = doc["targets"]["host"];
  if (entry.contains("cpu") && entry["cpu"].is_string())
    host.cpu = entry["cpu"].get<std::string>();
  if (entry.contains("cpu_features") && entry["cpu_features"].is_array())
    for (const auto &flag : entry["cpu_features"])
      if (flag.is_string())
        host.cpuFeatures.push_back(flag.get<std::string>());
  return host;
}
} // namespace

LogicalResult compileForCuda(ModuleOp module, const std::string &outputDir,
                             const CudaOptions &options, std::string &error,
                             llvm::raw_ostream *progress) {
  StageClock clock(progress);
  if (failed(runCudaPipeline(module, CudaStage::Linalg, CudaStage::RuntimeAbi,
                             options)))
    return failure();
  clock.done("linalg+abi");
  SmallString<256> ptxDir(outputDir);
  llvm::sys::path::append(ptxDir, "ptx");
  if (std::error_code ec = llvm::sys::fs::create_directories(ptxDir)) {
    error = "cannot create " + std::string(ptxDir) + ": " + ec.message();
    return failure();
  }
  // A module directory that already holds host code keeps it usable.
  std::vector<ManifestTarget> targets;
  SmallString<256> hostLibrary(outputDir);
  llvm::sys::path::append(hostLibrary, "host.so");
  if (llvm::sys::fs::exists(hostLibrary))
    targets.push_back(hostTargetOf(outputDir));
  if (failed(
          runCudaPipeline(module, CudaStage::Buffers, CudaStage::Gpu, options)))
    return failure();
  // The kernels are outlined: dg-gpu-device-buffers has marked the graph
  // arguments only kernels read and the results in device memory.
  bool deviceOnly = true;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      deviceOnly &= func.getArgAttr(i, dg::kDeviceOnlyAttrName) != nullptr;
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      deviceOnly &= func.getResultAttr(i, dg::kDeviceOnlyAttrName) != nullptr;
  }
  targets.push_back({"cuda", "cuda.so", options.chip, deviceOnly, "", {}});
  std::string manifest = buildManifest(module, targets);
  if (failed(runCudaPipeline(module, CudaStage::LLVMDialect,
                             CudaStage::LLVMDialect, options)))
    return failure();
  clock.done("to-ptx");
  // The kernels of an earlier compile into this directory are not this
  // module's: ptxas-check.sh would assemble them too.
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(ptxDir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::sys::path::extension(it->path()) == ".ptx")
      llvm::sys::fs::remove(it->path());
  for (const auto &[name, ptx] : collectKernelPtx(module)) {
    SmallString<256> path(ptxDir);
    llvm::sys::path::append(path, name + ".ptx");
    if (failed(writeTextFile(std::string(path), ptx, error)))
      return failure();
  }

  // cuda.so's host code runs on whatever CPU drives the GPU: baseline x86-64.
  return writeModuleDirectory(module, outputDir, "cuda.so", manifest,
                              HostCpu{"x86-64", "", {}}, CodeQuality::Launches,
                              error, clock);
}

} // namespace dgc
