//===- dgc-opt.cpp - mlir-opt with the dg dialect and dgc passes ----------===//
//
// The tool for people who study passes: every upstream dialect, extension and
// pass, plus the dg dialect and every dgc pass.
//
//===----------------------------------------------------------------------===//

#include "MlirInput.h"
#include "dg/DgDialect.h"
#include "dgc/Version.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <cstdio>

/// Hides what the LLVM library registered before main: its code generators'
/// tuning flags (--amdgpu-*, --x86-*, ...), over a thousand lines of --help
/// that no pass takes. They still work, and --help-hidden lists them.
static void hideLLVMBackendOptions() {
  for (auto &entry : llvm::cl::getRegisteredOptions()) {
    llvm::StringRef name = entry.first;
    if (name != "help" && name != "help-hidden" && name != "version" &&
        name != "color" && name != "help-list")
      entry.second->setHiddenFlag(llvm::cl::Hidden);
  }
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Before MLIR registers its own options, which stay visible.
  hideLLVMBackendOptions();
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << DGC_VERSION_LINE << "\n";
    llvm::cl::PrintVersionMessage(); // then LLVM's own
  });
  mlir::registerAllPasses();
  dgc::registerDgcPasses();
  dgc::registerDgcPipelines();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<dgc::dg::DgDialect>();
  auto [inputName, outputName] = mlir::registerAndParseCLIOptions(
      argc, argv, "dgc-opt: the dg dialect and dgc passes\n", registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();

  // --show-dialects and --list-passes print and stop: no input to wait for.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(mlir::MlirOptMain(
        llvm::outs(), llvm::MemoryBuffer::getMemBuffer(""), registry, config));

  // MlirOptMain's own reading would block on a FIFO and let the parser
  // overflow its stack on deep nesting; the input is opened and checked here.
  if (inputName == "-" &&
      llvm::sys::Process::FileDescriptorIsDisplayed(fileno(stdin)))
    llvm::errs() << "(processing input from stdin now, hit ctrl-c/ctrl-d to "
                    "interrupt)\n";
  auto input = dgc::openMlirInput(inputName, "dgc-opt");
  if (!input)
    return 1;
  std::string error;
  auto output = mlir::openOutputFile(outputName, &error);
  if (!output) {
    llvm::WithColor::error(llvm::errs(), "dgc-opt") << error << "\n";
    return 1;
  }
  if (mlir::failed(
          mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
