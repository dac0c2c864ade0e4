//===- dgc-opt.cpp - mlir-opt with the dg dialect and dgc passes ----------===//
//
// The tool for people who study passes: every upstream dialect, extension and
// pass, plus the dg dialect and every dgc pass.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
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
