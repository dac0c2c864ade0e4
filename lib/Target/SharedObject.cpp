//===- SharedObject.cpp - LLVM module -> x86-64 shared object -------------===//

#include "SharedObject.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace dgc {

void StageClock::done(const char *stage) {
  auto now = std::chrono::steady_clock::now();
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
} // namespace

LogicalResult linkSharedObject(llvm::Module &module, const std::string &library,
                               std::string &error, StageClock &clock) {
  auto machine = hostMachine(error);
  if (!machine)
    return failure();
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(machine->getTargetTriple());
  auto optimize = makeOptimizingTransformer(3, 0, machine.get());
  if (llvm::Error err = optimize(&module)) {
    error = "LLVM optimisation failed: " + llvm::toString(std::move(err));
    return failure();
  }
  clock.done("optimise");

  // Object file, then a shared object linked by the system compiler driver.
  SmallString<256> object;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("dgc-module", "o", fd, object)) {
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
    pm.run(module);
  }
  clock.done("codegen");
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    error = "no C compiler driver ('cc') on PATH to link the shared object";
    return failure();
  }
  std::string ccPath = *cc;
  SmallVector<StringRef> args = {ccPath, "-shared", "-o", library, object,
                                 "-lm"};
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
                                   std::string &error, StageClock &clock) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateToLLVMIR(module, llvmContext);
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return failure();
  }
  SmallString<256> libraryPath(outputDir);
  llvm::sys::path::append(libraryPath, library);
  if (failed(linkSharedObject(*llvmModule, std::string(libraryPath), error,
                              clock)))
    return failure();
  SmallString<256> manifestPath(outputDir);
  llvm::sys::path::append(manifestPath, "manifest.json");
  return writeTextFile(std::string(manifestPath), manifest, error);
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
