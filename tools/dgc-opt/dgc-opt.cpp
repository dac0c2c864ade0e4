//===- dgc-opt.cpp - mlir-opt with the dg dialect and dgc passes ----------===//
//
// The tool for people who study passes: every upstream dialect, extension and
// pass, plus the dg dialect and every dgc pass.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"
#include "dgc/Version.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"

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
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "dgc-opt: the dg dialect and dgc passes\n", registry));
}
