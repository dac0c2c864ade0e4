//===- HostTarget.h - Compile dg graphs to a host shared object -*- C++ -*-===//
//
// The host target: dg graphs -> linalg -> buffers -> loops -> LLVM -> an
// x86-64 shared object, packaged with its manifest in a module directory:
//
//   MODEL.dgm/manifest.json   graphs, entry points, weights, KV-cache pools
//   MODEL.dgm/host.so         the graphs' code
//
//===----------------------------------------------------------------------===//

#ifndef DGC_HOSTTARGET_H
#define DGC_HOSTTARGET_H

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace dgc {

/// The stages of the host pipeline, in order; `--emit` stops after one.
enum class HostStage {
  Linalg,
  RuntimeAbi,
  Buffers,
  Loops,
  LLVMDialect,
  LLVMIR
};

/// Parses a stage name ("linalg", "abi", "buffers", "loops", "llvm",
/// "llvm-ir").
bool parseHostStage(llvm::StringRef name, HostStage &stage);

struct HostOptions {
  /// Rows per expert tile of the grouped MoE GEMMs; 0: the height of the
  /// host's GEMM register tiles for the CPU (2, or 4 with AVX-512), so that
  /// each expert's weights are read once per tile of rows.
  int64_t moeGroupRows = 0;
  /// dg.sample with bf16 logits: candidates beyond top_k among the rounded
  /// logits whose f32 values are recomputed (0: top-k over f32 logits).
  int64_t sampleCandidates = 64;
  /// The CPU host.so is compiled for (`--cpu`): native, generic or an LLVM
  /// x86 CPU name; the manifest records the features the code needs.
  std::string cpu = "native";
};
const char *hostStageNames();

/// Where the pipelines of both targets show their progress, a line
/// rewritten in place (for a terminal); nullptr (the default): nowhere.
void setCompileProgress(llvm::raw_ostream *os);

/// Threads that optimise and compile the host code of a module, each a part
/// of it; 0 (the default): one per core.
void setCompileJobs(unsigned jobs);

/// Runs the stages `first` to `last` of the pipeline on `module`, in place.
mlir::LogicalResult runHostPipeline(mlir::ModuleOp module, HostStage first,
                                    HostStage last,
                                    const HostOptions &options = {});

/// A target a module directory holds code for: "host" (host.so) or "cuda"
/// (cuda.so, for `chip`). `deviceMemory`: only kernels read the graphs'
/// arguments and the results are device memory (dg-gpu-device-buffers
/// marked every one `dg.device_only`), so the runtime keeps weights,
/// inputs, KV-cache pools and results on the GPU and copies explicitly.
struct ManifestTarget {
  std::string name, library, chip;
  bool deviceMemory = false;
  /// For host code compiled for a CPU beyond baseline x86-64: its LLVM name
  /// and the /proc/cpuinfo flags the code needs.
  std::string cpu;
  std::vector<std::string> cpuFeatures;
};
/// The manifest of a module after the RuntimeAbi stage (or later), as JSON
/// text.
std::string buildManifest(mlir::ModuleOp module,
                          const std::vector<ManifestTarget> &targets);

/// Compiles `module` (the imported graphs) into the module directory
/// `outputDir`. Diagnostics go to the context's handler; `error` gets a
/// message for failures outside MLIR (files, the linker). With `progress`,
/// each stage's name and duration are printed there as it ends.
mlir::LogicalResult compileForHost(mlir::ModuleOp module,
                                   const std::string &outputDir,
                                   std::string &error,
                                   llvm::raw_ostream *progress = nullptr,
                                   const HostOptions &options = {});

/// The fusion passes that have landed, in order (`dgc compile --fuse`).
mlir::LogicalResult runFusion(mlir::ModuleOp module);

/// Prints the LLVM IR of a module lowered to the LLVM dialect.
mlir::LogicalResult printLLVMIR(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace dgc

#endif // DGC_HOSTTARGET_H
