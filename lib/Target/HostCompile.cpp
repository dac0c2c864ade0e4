//===- HostCompile.cpp - LLVM IR -> x86-64 object -> shared object --------===//

#include "dgc/HostTarget.h"

#include "mlir/ExecutionEngine/OptUtils.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include <chrono>

using namespace mlir;

namespace dgc {
namespace {

std::unique_ptr<llvm::TargetMachine> hostMachine(std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return nullptr;
  // Generic x86-64 so the module runs on any machine of the family.
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      llvm::Triple(triple), "x86-64", "", llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
}

std::unique_ptr<llvm::Module> translate(ModuleOp module,
                                        llvm::LLVMContext &llvmContext) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module.getContext()->appendDialectRegistry(registry);
  return translateModuleToLLVMIR(module, llvmContext, "dgc-host");
}

} // namespace

LogicalResult printLLVMIR(ModuleOp module, llvm::raw_ostream &os) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translate(module, llvmContext);
  if (!llvmModule)
    return failure();
  llvmModule->print(os, nullptr);
  return success();
}

namespace {
/// Prints "  <stage> <seconds> s" as each stage of a long compilation ends.
class StageClock {
public:
  explicit StageClock(llvm::raw_ostream *os) : os(os) {}
  void done(const char *stage) {
    auto now = std::chrono::steady_clock::now();
    if (os)
      *os << llvm::format("  %-10s %6.1f s\n", stage,
                          std::chrono::duration<double>(now - last).count());
    last = now;
  }

private:
  llvm::raw_ostream *os;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
};
} // namespace

LogicalResult compileForHost(ModuleOp module, const std::string &outputDir,
                             std::string &error, llvm::raw_ostream *progress) {
  StageClock clock(progress);
  if (failed(runHostPipeline(module, HostStage::Linalg, HostStage::RuntimeAbi)))
    return failure();
  clock.done("linalg+abi");
  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    error = "cannot create " + outputDir + ": " + ec.message();
    return failure();
  }
  std::string manifest = buildManifest(module, "host.so");
  if (failed(
          runHostPipeline(module, HostStage::Buffers, HostStage::LLVMDialect)))
    return failure();
  clock.done("to-llvm");

  llvm::LLVMContext llvmContext;
  auto llvmModule = translate(module, llvmContext);
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return failure();
  }
  auto machine = hostMachine(error);
  if (!machine)
    return failure();
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  auto optimize = makeOptimizingTransformer(3, 0, machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    error = "LLVM optimisation failed: " + llvm::toString(std::move(err));
    return failure();
  }
  clock.done("optimise");

  // Object file, then a shared object linked by the system compiler driver.
  SmallString<256> object;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("dgc-host", "o", fd, object)) {
    error = "cannot create a temporary object file: " + ec.message();
    return failure();
  }
  llvm::FileRemover removeObject(object);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      error = "the host target cannot emit object files";
      return failure();
    }
    pm.run(*llvmModule);
  }
  clock.done("codegen");
  SmallString<256> library(outputDir);
  llvm::sys::path::append(library, "host.so");
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    error = "no C compiler driver ('cc') on PATH to link the shared object";
    return failure();
  }
  std::string ccPath = *cc;
  SmallVector<StringRef> args = {ccPath,  "-shared", "-o",
                                 library, object,    "-lm"};
  std::string linkError;
  if (llvm::sys::ExecuteAndWait(ccPath, args, std::nullopt, {}, 0, 0,
                                &linkError) != 0) {
    error = "linking " + std::string(library) + " failed" +
            (linkError.empty() ? "" : ": " + linkError);
    return failure();
  }

  clock.done("link");
  SmallString<256> manifestPath(outputDir);
  llvm::sys::path::append(manifestPath, "manifest.json");
  std::error_code ec;
  llvm::raw_fd_ostream out(manifestPath, ec);
  if (ec) {
    error = "cannot write " + std::string(manifestPath) + ": " + ec.message();
    return failure();
  }
  out << manifest;
  return success();
}

} // namespace dgc
