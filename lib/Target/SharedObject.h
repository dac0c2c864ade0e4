//===- SharedObject.h - LLVM module -> x86-64 shared object -----*- C++ -*-===//
//
// Internal to the targets: both the host and the CUDA target end in host code
// (the graphs, or the launches of their kernels) linked into a shared object
// that the runtime loads.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_LIB_TARGET_SHAREDOBJECT_H
#define DGC_LIB_TARGET_SHAREDOBJECT_H

#include "HostCpu.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <memory>
#include <string>

namespace dgc {

/// Prints "  <stage> <seconds> s" as each stage of a long compilation ends.
class StageClock {
public:
  explicit StageClock(llvm::raw_ostream *os) : os(os) {}
  void done(const char *stage);

private:
  llvm::raw_ostream *os;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
};

/// Translates a module in the LLVM dialect (gpu.binary and launches
/// included) to LLVM IR.
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module,
                                                llvm::LLVMContext &context);

/// How hard LLVM works on a library's code.
enum class CodeQuality {
  /// host.so: the graphs' loops, at -O3.
  Fastest,
  /// cuda.so: its host code allocates, copies and launches kernels (and a
  /// CUDA graph replays it), so -O1 and fast instruction selection, at a
  /// third of the compile time.
  Launches,
};

/// Frees each kernel launch's argument arrays after the launch
/// (llvm.stacksave and llvm.stackrestore around it), so that a graph's stack
/// holds one launch's arguments, not every launch's (LaunchStack.cpp). For
/// code that is not optimised after it.
void scopeLaunchArguments(llvm::Module &module);

/// Splits `module` into a part per thread (setCompileJobs), optimises each
/// for `cpu` and emits it as a temporary object file, added to `objects`
/// (the caller removes them).
mlir::LogicalResult compileToObjects(llvm::Module &module, const HostCpu &cpu,
                                     CodeQuality quality,
                                     std::vector<std::string> &objects,
                                     std::string &error, StageClock &clock);

/// Optimises `module` for `cpu` at O3, emits an object and links `library`
/// with the system compiler driver.
mlir::LogicalResult linkSharedObject(llvm::Module &module,
                                     const std::string &library,
                                     const HostCpu &cpu, CodeQuality quality,
                                     std::string &error, StageClock &clock);

/// Ends a target's compilation of `module` (in the LLVM dialect): translates
/// it, links `outputDir/library` and writes `outputDir/manifest.json`.
mlir::LogicalResult
writeModuleDirectory(mlir::ModuleOp module, const std::string &outputDir,
                     const std::string &library, const std::string &manifest,
                     const HostCpu &cpu, CodeQuality quality,
                     std::string &error, StageClock &clock);

/// Writes `text` to `path`.
/// Writes `outputDir`/SHA256SUMS: the digests of manifest.json and of the
/// libraries its targets name, which the runtime checks on load.
mlir::LogicalResult writeModuleSums(const std::string &outputDir,
                                    const std::string &manifest,
                                    std::string &error);

mlir::LogicalResult writeTextFile(const std::string &path,
                                  const std::string &text, std::string &error);

} // namespace dgc

#endif // DGC_LIB_TARGET_SHAREDOBJECT_H
