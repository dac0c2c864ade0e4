//===- ParallelCodegen.cpp - One LLVM module optimised on every core ------===//
//
// The graphs' host code is hundreds of functions (one per loop nest) that
// barely call each other, so the module splits into parts that LLVM
// optimises and compiles to objects at once, one thread each, and the system
// linker joins. Each part lives in its own LLVMContext (a context is not
// thread-safe), moved there as bitcode.
//
//===----------------------------------------------------------------------===//

#include "SharedObject.h"

#include "PassProgress.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <atomic>
#include <mutex>

namespace dgc {

namespace {
std::atomic<unsigned> compileJobs{0};

/// One part of the module, in a context of its own.
struct Part {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
  /// The part's own: a target machine is not shared between threads.
  std::unique_ptr<llvm::TargetMachine> machine;
  std::string object;
};

/// Runs `work` on each part, `jobs` at a time; the first error wins.
template <typename Work>
void forEachPart(std::vector<Part> &parts, unsigned jobs, std::string &error,
                 Work work) {
  std::mutex errorLock;
  llvm::StdThreadPool pool(llvm::hardware_concurrency(jobs));
  for (Part &part : parts)
    pool.async([&, partPointer = &part] {
      std::string partError;
      if (!work(*partPointer, partError)) {
        std::lock_guard<std::mutex> lock(errorLock);
        if (error.empty())
          error = partError;
      }
    });
  pool.wait();
}
} // namespace

void setCompileJobs(unsigned jobs) { compileJobs = jobs; }

unsigned compileJobsToUse() {
  unsigned jobs = compileJobs;
  return jobs ? jobs
              : std::max(1u,
                         llvm::hardware_concurrency().compute_thread_count());
}

/// LLVM's default pipeline at `optLevel` for `machine`, without its loop
/// unroller: the host passes emit their hot loops already unrolled into
/// register tiles, and unrolling the rest cost a quarter of the optimise and
/// codegen time (tiny config: 5.4 s -> 4.1 s) for no measured speed.
void optimizeModule(llvm::Module &module, llvm::TargetMachine &machine,
                    unsigned optLevel) {
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = optLevel > 1;
  tuning.SLPVectorization = optLevel > 1;
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::OptimizationLevel level = optLevel >= 3   ? llvm::OptimizationLevel::O3
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O1;
  builder.buildPerModuleDefaultPipeline(level).run(module, modules);
}

mlir::LogicalResult compileToObjects(llvm::Module &module, const HostCpu &cpu,
                                     CodeQuality quality,
                                     std::vector<std::string> &objects,
                                     std::string &error, StageClock &clock) {
  unsigned jobs = compileJobsToUse();
  bool fastest = quality == CodeQuality::Fastest;
  unsigned optLevel = fastest ? 3 : 1;
  llvm::CodeGenOptLevel codegenLevel =
      fastest ? llvm::CodeGenOptLevel::Aggressive : llvm::CodeGenOptLevel::None;
  size_t functions = 0, instructions = 0;
  for (const llvm::Function &f : module) {
    functions += !f.isDeclaration();
    instructions += f.getInstructionCount();
  }
  // Each part as bitcode, read back into its own context.
  std::vector<llvm::SmallString<0>> bitcode;
  llvm::SplitModule(module,
                    std::max<size_t>(1, std::min<size_t>(jobs, functions)),
                    [&](std::unique_ptr<llvm::Module> part) {
                      llvm::raw_svector_ostream os(bitcode.emplace_back());
                      llvm::WriteBitcodeToFile(*part, os);
                    });
  std::vector<Part> parts(bitcode.size());
  for (auto [part, code] : llvm::zip(parts, bitcode)) {
    part.context = std::make_unique<llvm::LLVMContext>();
    auto parsed = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(code.str(), "part"), *part.context);
    if (!parsed) {
      error =
          "cannot split the LLVM module: " + llvm::toString(parsed.takeError());
      return mlir::failure();
    }
    part.module = std::move(*parsed);
  }

  showProgress("optimise: -O" + llvm::Twine(optLevel) + " over " +
               llvm::Twine(functions) + " functions, " +
               llvm::Twine(instructions) + " instructions, " +
               llvm::Twine(parts.size()) + " threads");
  forEachPart(parts, jobs, error, [&](Part &part, std::string &partError) {
    part.machine = hostMachine(cpu, partError, codegenLevel);
    if (!part.machine)
      return false;
    optimizeModule(*part.module, *part.machine, optLevel);
    // After the optimiser, which would merge the launches' block back into
    // the entry block; fast instruction selection leaves it be.
    if (quality == CodeQuality::Launches)
      scopeLaunchArguments(*part.module);
    return true;
  });
  if (!error.empty())
    return mlir::failure();
  clock.done("optimise");

  showProgress("codegen: " + cpu.name + " machine code for " +
               llvm::Twine(functions) + " functions, " +
               llvm::Twine(parts.size()) + " threads");
  forEachPart(parts, jobs, error, [&](Part &part, std::string &partError) {
    int fd;
    llvm::SmallString<256> path;
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("dgc-module", "o", fd, path)) {
      partError = "cannot create a temporary object file: " + ec.message();
      return false;
    }
    part.object = std::string(path);
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    llvm::legacy::PassManager pm;
    if (part.machine->addPassesToEmitFile(pm, os, nullptr,
                                          llvm::CodeGenFileType::ObjectFile)) {
      partError = "the host target cannot emit object files";
      return false;
    }
    pm.run(*part.module);
    return true;
  });
  for (Part &part : parts)
    if (!part.object.empty())
      objects.push_back(part.object);
  if (!error.empty())
    return mlir::failure();
  clock.done("codegen");
  return mlir::success();
}

} // namespace dgc
