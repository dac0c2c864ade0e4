//===- PassProgress.h - A live line of a pipeline's progress ----*- C++ -*-===//
//
// Internal to the targets. A compile of the 26B-A4B config spends minutes in
// single stages; on a terminal, dgc shows which pass of how many runs and,
// inside nested pipelines, how many functions or kernels are done of how
// many, on one line rewritten in place.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_LIB_TARGET_PASSPROGRESS_H
#define DGC_LIB_TARGET_PASSPROGRESS_H

#include "mlir/Pass/PassManager.h"

namespace dgc {

/// Adds the progress line to `pm` when setCompileProgress gave a stream.
void addPassProgress(mlir::PassManager &pm);

/// Shows `what` on the progress line, when there is one (for the LLVM
/// stages, which run as one call each).
void showProgress(const llvm::Twine &what);
/// Clears the progress line before a line that stays.
void clearProgress();

} // namespace dgc

#endif // DGC_LIB_TARGET_PASSPROGRESS_H
