//===- SharedObject.cpp - LLVM module -> x86-64 shared object -------------===//

#include "SharedObject.h"

#include "PassProgress.h"

#include "dgc/runtime/ModuleFormat.h"

#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <nlohmann/json.hpp>

using namespace mlir;

namespace dgc {

void StageClock::done(const char *stage) {
  auto now = std::chrono::steady_clock::now();
  clearProgress();
  if (os)
    *os << llvm::format("  %-10s %6.1f s\n", stage,
                        std::chrono::duration<double>(now - last).count());
  last = now;
}

std::unique_ptr<llvm::Module> translateToLLVMIR(ModuleOp module,
                                                llvm::LLVMContext &context) {
  // Every translation, so that gpu.binary objects become embedded globals
  // and launches become calls to the runtime's mgpu* functions.
  DialectRegistry registry;
  registerAllToLLVMIRTranslations(registry);
  module.getContext()->appendDialectRegistry(registry);
  return translateModuleToLLVMIR(module, context, "dgc");
}

LogicalResult linkSharedObject(llvm::Module &module, const std::string &library,
                               const HostCpu &cpu, CodeQuality quality,
                               std::string &error, StageClock &clock) {
  auto machine = hostMachine(cpu, error);
  if (!machine)
    return failure();
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(machine->getTargetTriple());
  // Objects of the module's parts, compiled at once, removed once linked.
  std::vector<std::string> objects;
  llvm::scope_exit removeObjects([&] {
    for (const std::string &object : objects)
      llvm::sys::fs::remove(object);
  });
  if (failed(compileToObjects(module, cpu, quality, objects, error, clock)))
    return failure();
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    error = "no C compiler driver ('cc') on PATH to link the shared object";
    return failure();
  }
  std::string ccPath = *cc;
  SmallVector<StringRef> args = {ccPath, "-shared", "-o", library};
  args.append(objects.begin(), objects.end());
  args.push_back("-lm");
  std::string linkError;
  if (llvm::sys::ExecuteAndWait(ccPath, args, std::nullopt, {}, 0, 0,
                                &linkError) != 0) {
    error = "linking " + library + " failed" +
            (linkError.empty() ? "" : ": " + linkError);
    return failure();
  }
  clock.done("link");
  return success();
}

LogicalResult writeModuleDirectory(ModuleOp module,
                                   const std::string &outputDir,
                                   const std::string &library,
                                   const std::string &manifest,
                                   const HostCpu &cpu, CodeQuality quality,
                                   std::string &error, StageClock &clock) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateToLLVMIR(module, llvmContext);
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return failure();
  }
  // The library names its manifest, which the runtime compares on load:
  // all of it but "targets", which the next target's compile of --target
  // all extends (ModuleFormat.h).
  nlohmann::json bound = nlohmann::json::parse(manifest);
  bound.erase("targets");
  std::string digest =
      llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(bound.dump())),
                  /*LowerCase=*/true);
  auto *text = llvm::ConstantDataArray::getString(llvmContext, digest);
  new llvm::GlobalVariable(*llvmModule, text->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, text,
                           runtime::kManifestDigestSymbol);
  SmallString<256> libraryPath(outputDir);
  llvm::sys::path::append(libraryPath, library);
  if (failed(linkSharedObject(*llvmModule, std::string(libraryPath), cpu,
                              quality, error, clock)))
    return failure();
  SmallString<256> manifestPath(outputDir);
  llvm::sys::path::append(manifestPath, "manifest.json");
  if (failed(writeTextFile(std::string(manifestPath), manifest, error)))
    return failure();
  return writeModuleSums(outputDir, manifest, error);
}

LogicalResult writeModuleSums(const std::string &outputDir,
                              const std::string &manifest, std::string &error) {
  // The manifest, then each target's library it names (a module compiled
  // for all targets names host.so and cuda.so), as `sha256sum` writes them.
  std::vector<std::string> files = {"manifest.json"};
  nlohmann::json doc = nlohmann::json::parse(manifest);
  for (const auto &target : doc["targets"])
    files.push_back(target["library"].get<std::string>());
  std::string sums;
  for (const std::string &file : files) {
    SmallString<256> path(outputDir);
    llvm::sys::path::append(path, file);
    auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer) {
      error = "cannot read " + std::string(path) +
              " to record its digest: " + buffer.getError().message();
      return failure();
    }
    auto digest =
        llvm::SHA256::hash(llvm::arrayRefFromStringRef((*buffer)->getBuffer()));
    sums += llvm::toHex(digest, /*LowerCase=*/true) + "  " + file + "\n";
  }
  SmallString<256> sumsPath(outputDir);
  llvm::sys::path::append(sumsPath, runtime::kModuleSumsFile);
  return writeTextFile(std::string(sumsPath), sums, error);
}

LogicalResult writeTextFile(const std::string &path, const std::string &text,
                            std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec);
  if (ec) {
    error = "cannot write " + path + ": " + ec.message();
    return failure();
  }
  out << text;
  return success();
}

} // namespace dgc
