//===- CudaTarget.h - Compile dg graphs for NVIDIA GPUs ---------*- C++ -*-===//
//
// The CUDA target: the host target's first stages (linalg, runtime ABI,
// buffers), then every parallel loop nest becomes a GPU kernel, kernels are
// lowered through NVVM and LLVM's NVPTX backend to PTX, and the host side
// that launches them becomes an x86-64 shared object calling the runtime's
// `mgpu*` functions:
//
//   MODEL.dgm/cuda.so          the graphs' host code, PTX embedded
//   MODEL.dgm/ptx/KERNEL.ptx   each kernel's PTX, for ptxas and profilers
//
//===----------------------------------------------------------------------===//

#ifndef DGC_CUDATARGET_H
#define DGC_CUDATARGET_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace dgc {

/// The stages of the CUDA pipeline, in order; `--emit` stops after one.
enum class CudaStage { Linalg, RuntimeAbi, Buffers, Gpu, LLVMDialect, Ptx };

struct CudaOptions {
  std::string chip = "sm_90a";
  /// PTX ISA 8.0 is the first with sm_90a.
  std::string features = "+ptx80";
  int optLevel = 3;
  /// Threads per block of the mapped parallel loops.
  int64_t threads = 256;
  /// Rows per expert tile of the grouped MoE GEMMs: the tensor-core
  /// kernel's tile height, so that a tile never spans two experts.
  int64_t moeGroupRows = 16;
  /// Contractions with at least this many output columns (the LM head) take
  /// the 128 x 64 tensor-core tile, the others 64 x 32.
  int64_t gemmWideColumns = 16384;
  /// Shared buffers of the tensor-core GEMMs' cp.async rings.
  int64_t gemmStages = 3;
  /// dg.sample with bf16 logits: candidates beyond top_k among the rounded
  /// logits whose f32 values are recomputed (0: top-k over f32 logits,
  /// which the LM head's GEMM must then write).
  int64_t sampleCandidates = 64;
  /// The CUDA toolkit, for libdevice (nvvm/libdevice/libdevice.10.bc).
  std::string toolkitPath;
};

/// The toolkit to use: `requested` if given, else $CUDA_HOME, $CUDA_PATH,
/// $CUDA_ROOT or /usr/local/cuda, the first holding libdevice. Empty, with
/// `error` set, when none does.
std::string findCudaToolkit(const std::string &requested, std::string &error);

/// Parses a stage name ("linalg", "abi", "buffers", "gpu", "llvm", "ptx").
bool parseCudaStage(llvm::StringRef name, CudaStage &stage);
const char *cudaStageNames();

/// Runs the stages `first` to `last` on `module`, in place. Ptx is the same
/// IR as LLVMDialect (the PTX lives in its gpu.binary ops).
mlir::LogicalResult runCudaPipeline(mlir::ModuleOp module, CudaStage first,
                                    CudaStage last, const CudaOptions &options);

/// Each kernel's PTX in a module after the LLVMDialect stage, in order:
/// (kernel module name, PTX text).
std::vector<std::pair<std::string, std::string>>
collectKernelPtx(mlir::ModuleOp module);

/// Compiles `module` (the imported graphs) into the module directory
/// `outputDir`: cuda.so, ptx/, and manifest.json (with a host target too when
/// `alsoHost` was already written there). Like compileForHost otherwise.
mlir::LogicalResult compileForCuda(mlir::ModuleOp module,
                                   const std::string &outputDir,
                                   const CudaOptions &options,
                                   std::string &error,
                                   llvm::raw_ostream *progress = nullptr);

} // namespace dgc

#endif // DGC_CUDATARGET_H
