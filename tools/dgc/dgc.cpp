//===- dgc.cpp - The dgc compiler driver ----------------------------------===//
//
//   dgc import CONFIG.json [-o OUT.mlir]   the unfused graphs as dg IR
//   dgc compile CONFIG.json|GRAPHS.mlir -o MODEL.dgm
//   dgc summary CONFIG.json...             a readable account of the graphs
//
//===----------------------------------------------------------------------===//

#include "MlirInput.h"
#include "dg/DgDialect.h"
#include "dgc/Config.h"
#include "dgc/CudaTarget.h"
#include "dgc/GraphBuilder.h"
#include "dgc/HostTarget.h"
#include "dgc/Version.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "passes/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace llvm;

namespace {

cl::OptionCategory dgcCategory("dgc options");

/// Integer options in decimal only: LLVM's parser would read 016 as octal
/// and 0x10 as hex, which nobody means on this command line.
struct DecimalParser : cl::basic_parser<int64_t> {
  DecimalParser(cl::Option &option) : basic_parser(option), printer(option) {}
  bool parse(cl::Option &option, StringRef name, StringRef arg,
             int64_t &value) {
    StringRef number = arg;
    bool plus = number.consume_front("+");
    StringRef digits = number;
    if (!plus)
      digits.consume_front("-");
    bool decimal = !digits.empty() &&
                   digits.find_first_not_of("0123456789") == StringRef::npos &&
                   (digits == "0" || digits[0] != '0');
    if (!decimal)
      return option.error("'" + arg +
                          "' value invalid: expected a decimal integer (no "
                          "leading zeros, no 0x)");
    if (number.getAsInteger(10, value))
      return option.error("'" + arg +
                          "' value invalid: out of range of a 64-bit integer");
    return false;
  }
  StringRef getValueName() const override { return "int"; }
  // cl::opt prints the value (--print-options) through cl::parser<int64_t>.
  operator const cl::parser<int64_t> &() const { return printer; }
  cl::parser<int64_t> printer;
};
using IntOption = cl::opt<int64_t, false, DecimalParser>;

cl::SubCommand importCmd("import",
                         "Build the model's unfused graphs from its config and "
                         "print them as dg IR");
cl::SubCommand compileCmd("compile",
                          "Compile the model's graphs into a module directory "
                          "the runtime loads (MODEL.dgm)");
cl::SubCommand summaryCmd("summary",
                          "Build the graphs of one or more configs and print a "
                          "readable summary of each");

cl::opt<std::string> importConfig(cl::Positional, cl::Required,
                                  cl::desc("<config.json>"), cl::sub(importCmd),
                                  cl::cat(dgcCategory));
cl::opt<std::string> compileConfig(cl::Positional, cl::Required,
                                   cl::desc("<config.json | graphs.mlir>"),
                                   cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<std::string> moduleOutput("o", cl::desc("Module directory to write"),
                                  cl::value_desc("MODEL.dgm"),
                                  cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<std::string> targetOpt(
    "target",
    cl::desc("host (x86-64), cuda (PTX kernels for --chip, launched from "
             "x86-64) or all"),
    cl::init("host"), cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<std::string> cpuOpt(
    "cpu",
    cl::desc("The CPU host.so is compiled for: native (the default: this "
             "machine's CPU and all its features), generic (any x86-64), or "
             "an LLVM CPU name such as x86-64-v3 or znver4; the runtime "
             "refuses a machine without the features it needs"),
    cl::init("native"), cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<std::string> chipOpt("chip",
                             cl::desc("GPU of the cuda target (default "
                                      "sm_90a: H100/H200)"),
                             cl::init("sm_90a"), cl::sub(compileCmd),
                             cl::cat(dgcCategory));
cl::opt<std::string> cudaPathOpt(
    "cuda-path",
    cl::desc("CUDA toolkit whose libdevice the cuda target links (default: "
             "$CUDA_HOME, $CUDA_PATH, $CUDA_ROOT, /usr/local/cuda)"),
    cl::value_desc("dir"), cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<std::string> emitOpt(
    "emit",
    cl::desc("Stop after a stage and print its IR: linalg, abi, buffers, "
             "loops, llvm, llvm-ir (host); linalg, abi, buffers, gpu, llvm, "
             "ptx (cuda)"),
    cl::value_desc("stage"), cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<bool> fuseOpt(
    "fuse",
    cl::desc("Run the fusion passes before lowering (dg-fuse-attention, "
             "dg-fuse-moe, dg-fuse-sampling): the default for a config; dg "
             "IR (.mlir) is compiled as it is unless this is given"),
    cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<bool> progressOpt(
    "progress",
    cl::desc("Show a live line of each stage's progress (pass of passes, "
             "kernels or functions done); the default on a terminal"),
    cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<bool> noFuseOpt(
    "no-fuse",
    cl::desc("Compile a config's graphs unfused, each op lowered on its own "
             "(for comparing with the fused graphs)"),
    cl::sub(compileCmd), cl::cat(dgcCategory));
IntOption moeGroupRowsOpt(
    "moe-group-rows",
    cl::desc("Rows per expert tile of the grouped MoE GEMMs (default: the "
             "GEMM tile height, 2 on host, 4 with AVX-512, 16 on cuda)"),
    cl::init(0), cl::value_desc("n"), cl::sub(compileCmd),
    cl::cat(dgcCategory));
IntOption gemmWideColumnsOpt(
    "gemm-wide-columns",
    cl::desc("cuda: contractions with at least this many output columns take "
             "the 128 x 64 tensor-core tile, the others 64 x 32 (default "
             "16384: the LM head; 1: every one)"),
    cl::init(0), cl::value_desc("n"), cl::sub(compileCmd),
    cl::cat(dgcCategory));
IntOption gemmStagesOpt(
    "gemm-stages",
    cl::desc("cuda: shared buffers of the tensor-core GEMMs' cp.async rings, "
             "2 to 8 (default 3; fewer where they would pass 48 KB)"),
    cl::init(0), cl::value_desc("n"), cl::sub(compileCmd),
    cl::cat(dgcCategory));
IntOption jobsOpt(
    "jobs",
    cl::desc("Threads that optimise and compile the host code, each a part "
             "of it, 1 to 256 (default: one per core)"),
    cl::init(0), cl::value_desc("n"), cl::sub(compileCmd),
    cl::cat(dgcCategory));
cl::alias jobsAlias("j", cl::desc("Alias for --jobs"), cl::aliasopt(jobsOpt));
IntOption sampleCandidatesOpt(
    "sample-candidates",
    cl::desc("bf16 models: the sampler's top-64 is taken among this many "
             "more of the largest bf16 logits, their f32 values recomputed, "
             "so no f32 [canvas x vocabulary] logits are kept (default 64; "
             "exact unless more tie in bf16 with the 64th; 0: top-64 over "
             "f32 logits)"),
    cl::init(64), cl::value_desc("n"), cl::sub(compileCmd),
    cl::cat(dgcCategory));
cl::list<std::string> summaryConfigs(cl::Positional, cl::OneOrMore,
                                     cl::desc("<config.json>..."),
                                     cl::sub(summaryCmd), cl::cat(dgcCategory));
cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::sub(importCmd), cl::cat(dgcCategory));
cl::opt<std::string> generationFile(
    "generation-config",
    cl::desc("generation_config.json to read (default: the one beside the "
             "config, if any)"),
    cl::value_desc("file"), cl::sub(importCmd), cl::sub(summaryCmd),
    cl::sub(compileCmd), cl::cat(dgcCategory));
cl::opt<std::string> dtypeOpt(
    "dtype",
    cl::desc("Compute type of the graphs: bfloat16, float16 or float32 "
             "(default: the checkpoint's torch_dtype)"),
    cl::value_desc("type"), cl::sub(importCmd), cl::sub(summaryCmd),
    cl::sub(compileCmd), cl::cat(dgcCategory));
cl::list<std::string> graphsOpt(
    "graphs",
    cl::desc("Graphs to build, comma separated: encoder, decoder, vision "
             "(default: all; vision only with a vision_config)"),
    cl::CommaSeparated, cl::value_desc("names"), cl::sub(importCmd),
    cl::sub(summaryCmd), cl::sub(compileCmd), cl::cat(dgcCategory));

int fail(const std::string &message) {
  WithColor::error(errs(), "dgc") << message << "\n";
  return 1;
}

/// A flag given with an empty value (--dtype=) would otherwise read as one
/// not given at all; prints why and returns false for the first such flag.
bool checkNotEmpty() {
  const std::pair<const cl::opt<std::string> *, const char *> flags[] = {
      {&generationFile, "file name"},
      {&outputFile, "file name"},
      {&moduleOutput, "directory name"},
      {&cudaPathOpt, "directory name"},
      {&cpuOpt, "CPU name"},
      {&emitOpt, "stage name"}};
  for (auto [flag, what] : flags)
    if (flag->getNumOccurrences() && flag->getValue().empty()) {
      fail((flag->ArgStr.size() == 1 ? "-" : "--") + flag->ArgStr.str() +
           ": empty " + what);
      return false;
    }
  return true;
}

/// sm_ and the compute capability, perhaps with the suffix a
/// (architecture-specific features) or f (family): sm_80, sm_90a, sm_100f.
bool isNvidiaArchitecture(StringRef chip) {
  if (!chip.consume_front("sm_"))
    return false;
  if (chip.ends_with("a") || chip.ends_with("f"))
    chip = chip.drop_back();
  return chip.size() >= 2 && chip.size() <= 3 &&
         chip.find_first_not_of("0123456789") == StringRef::npos;
}

/// Refuses token ids of the generation config that the model's vocabulary
/// does not have: the sampler would wait for an EOS it cannot draw, or pad
/// with a token the embedding has no row for.
bool checkGenerationTokens(const std::string &genPath,
                           const dgc::ModelConfig &model,
                           const dgc::GenerationConfig &generation) {
  int64_t vocab = model.text.vocabSize;
  auto outside = [&](const std::string &key, int64_t id) {
    fail(genPath + ": " + key + ": token id " + std::to_string(id) +
         " is outside the vocabulary [0, " + std::to_string(vocab - 1) +
         "] of " + model.path);
    return false;
  };
  // The defaults (which the runtime would refuse as well) are named as such.
  for (int64_t id : generation.options.eosIds)
    if (id >= vocab)
      return outside(generation.eosStated
                         ? "eos_token_id"
                         : "eos_token_id (not given: the default 1, 106, 50)",
                     id);
  if (generation.options.padId >= vocab)
    return outside("pad_token_id", generation.options.padId);
  return true;
}

/// Reads the config and its generation config, or prints why not.
bool loadConfigs(const std::string &path, dgc::ModelConfig &model,
                 dgc::GenerationConfig &generation) {
  dgc::ConfigError error;
  auto config = dgc::loadModelConfig(path, error);
  if (!config) {
    fail(error.str());
    return false;
  }
  model = *config;
  std::string genPath = generationFile;
  if (genPath.empty()) {
    SmallString<256> beside(sys::path::parent_path(path));
    sys::path::append(beside, "generation_config.json");
    if (sys::fs::exists(beside))
      genPath = std::string(beside);
  }
  if (!genPath.empty()) {
    auto gen = dgc::loadGenerationConfig(genPath, error);
    if (!gen) {
      fail(error.str());
      return false;
    }
    if (!checkGenerationTokens(genPath, model, *gen))
      return false;
    generation = *gen;
  }
  return true;
}

bool parseOptions(dgc::BuildOptions &options) {
  if (dtypeOpt.getNumOccurrences()) {
    static const std::map<std::string, std::string> aliases = {
        {"bfloat16", "bfloat16"}, {"bf16", "bfloat16"},
        {"float16", "float16"},   {"f16", "float16"},
        {"float32", "float32"},   {"f32", "float32"}};
    auto it = aliases.find(dtypeOpt);
    if (it == aliases.end()) {
      fail("--dtype: expected bfloat16, float16 or float32, got '" + dtypeOpt +
           "'");
      return false;
    }
    options.dtype = it->second;
  }
  if (!graphsOpt.empty()) {
    options.encoder = options.decoder = options.vision = false;
    for (const std::string &g : graphsOpt) {
      if (g == "encoder")
        options.encoder = true;
      else if (g == "decoder")
        options.decoder = true;
      else if (g == "vision")
        options.vision = true;
      else {
        fail("--graphs: unknown graph '" + g +
             "'; expected encoder, decoder or vision");
        return false;
      }
    }
  }
  return true;
}

/// Reads the config (and generation config) at `path` and builds its graphs
/// with the command line's options; null after printing why not.
mlir::OwningOpRef<mlir::ModuleOp> importModel(const std::string &path,
                                              mlir::MLIRContext &context) {
  dgc::BuildOptions options;
  dgc::ModelConfig config;
  dgc::GenerationConfig generation;
  if (!parseOptions(options) || !loadConfigs(path, config, generation))
    return nullptr;
  auto module = dgc::buildModel(context, config, generation, options);
  if (!module)
    fail("internal error: the built graphs do not verify");
  return module;
}

/// Parses dg IR written by hand or by `dgc import` (and perhaps edited):
/// graphs to compile as they are. The build options shape graphs built from
/// a config, so they are refused here rather than ignored.
mlir::OwningOpRef<mlir::ModuleOp> parseGraphs(const std::string &path,
                                              mlir::MLIRContext &context) {
  const cl::Option *buildOptions[] = {&dtypeOpt, std::addressof(graphsOpt),
                                      &generationFile};
  for (const cl::Option *given : buildOptions)
    if (given->getNumOccurrences()) {
      fail("--" + given->ArgStr.str() + " shapes graphs built from a " +
           "config; " + path + " holds graphs already");
      return nullptr;
    }
  auto file = dgc::openMlirInput(path, "dgc");
  if (!file)
    return nullptr;
  // Errors in the file show as FILE:LINE:COL with the line quoted.
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(std::move(file), SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sources, &context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(sources, &context);
  if (!module || failed(mlir::verify(*module)))
    return nullptr;
  // The runtime needs what a config would have said about the model.
  if (!dgc::dg::ModelAttr::of(*module)) {
    fail(path + ": the module has no '" + dgc::dg::kModelAttrName.str() +
         "' attribute (#dg.model<...>), which the runtime reads (dgc import "
         "writes it)");
    return nullptr;
  }
  return module;
}

/// Opens `path` ("-" for stdout) and lets `print` write it.
int writeOutput(const std::string &path,
                llvm::function_ref<bool(raw_ostream &)> print) {
  std::string error;
  auto output = mlir::openOutputFile(path, &error);
  if (!output)
    return fail(error);
  if (!print(output->os()))
    return 1;
  output->keep();
  return 0;
}

int runImport() {
  if (!checkNotEmpty())
    return 1;
  mlir::MLIRContext context;
  auto module = importModel(importConfig, context);
  if (!module)
    return 1;
  return writeOutput(outputFile, [&](raw_ostream &os) {
    module->print(os);
    os << "\n";
    return true;
  });
}

/// --emit for the cuda target: the IR of a stage, or every kernel's PTX.
int emitCuda(mlir::ModuleOp module, const dgc::CudaOptions &options) {
  dgc::CudaStage stage;
  if (!dgc::parseCudaStage(emitOpt, stage))
    return fail("--emit: unknown stage '" + emitOpt +
                "' of the cuda target; expected one of " +
                dgc::cudaStageNames());
  if (failed(
          dgc::runCudaPipeline(module, dgc::CudaStage::Linalg, stage, options)))
    return 1;
  return writeOutput(
      moduleOutput.empty() ? std::string("-") : std::string(moduleOutput),
      [&](raw_ostream &os) {
        if (stage != dgc::CudaStage::Ptx) {
          module->print(os);
          return true;
        }
        for (const auto &[name, ptx] : dgc::collectKernelPtx(module))
          os << "// ---- kernel module " << name << "\n" << ptx << "\n";
        return true;
      });
}

int runCompile() {
  if (!checkNotEmpty())
    return 1;
  if (targetOpt != "host" && targetOpt != "cuda" && targetOpt != "all")
    return fail("--target: '" + targetOpt +
                "' is not a target; expected host, cuda or all");
  bool host = targetOpt != "cuda", cuda = targetOpt != "host";
  if (progressOpt || errs().is_displayed())
    dgc::setCompileProgress(&errs());
  dgc::HostStage stage = dgc::HostStage::LLVMIR;
  if (!emitOpt.empty() && targetOpt == "all")
    return fail("--emit needs one target: --target host or --target cuda");
  if (!emitOpt.empty() && host && !dgc::parseHostStage(emitOpt, stage))
    return fail("--emit: unknown stage '" + emitOpt + "'; expected one of " +
                dgc::hostStageNames());
  if (emitOpt.empty() && moduleOutput.empty())
    return fail("compile needs -o MODEL.dgm (or --emit STAGE to print IR)");
  if (!isNvidiaArchitecture(chipOpt))
    return fail("--chip: '" + chipOpt +
                "' is not an NVIDIA GPU architecture (sm_XY, sm_XYa or "
                "sm_XYf)");
  if (moeGroupRowsOpt.getNumOccurrences() &&
      (moeGroupRowsOpt < 1 || moeGroupRowsOpt > 4096))
    return fail("--moe-group-rows: " + std::to_string(moeGroupRowsOpt) +
                " is not in [1, 4096]");
  if (gemmWideColumnsOpt.getNumOccurrences() && gemmWideColumnsOpt < 1)
    return fail("--gemm-wide-columns: " + std::to_string(gemmWideColumnsOpt) +
                " is not at least 1");
  if (gemmStagesOpt.getNumOccurrences() &&
      (gemmStagesOpt < 2 || gemmStagesOpt > 8))
    return fail("--gemm-stages: " + std::to_string(gemmStagesOpt) +
                " is not in [2, 8]");
  if (jobsOpt.getNumOccurrences() && (jobsOpt < 1 || jobsOpt > 256))
    return fail("--jobs: " + std::to_string(jobsOpt) + " is not in [1, 256]");
  dgc::setCompileJobs(unsigned(jobsOpt));
  if (sampleCandidatesOpt < 0 || sampleCandidatesOpt > 4096)
    return fail("--sample-candidates: " + std::to_string(sampleCandidatesOpt) +
                " is not in [0, 4096]");
  dgc::CudaOptions cudaOptions;
  cudaOptions.chip = chipOpt;
  if (gemmStagesOpt > 0)
    cudaOptions.gemmStages = gemmStagesOpt;
  if (gemmWideColumnsOpt > 0)
    cudaOptions.gemmWideColumns = gemmWideColumnsOpt;
  dgc::HostOptions hostOptions;
  hostOptions.cpu = cpuOpt;
  hostOptions.sampleCandidates = cudaOptions.sampleCandidates =
      sampleCandidatesOpt;
  if (moeGroupRowsOpt > 0)
    hostOptions.moeGroupRows = cudaOptions.moeGroupRows = moeGroupRowsOpt;
  if (cuda) {
    std::string error;
    cudaOptions.toolkitPath = dgc::findCudaToolkit(cudaPathOpt, error);
    if (cudaOptions.toolkitPath.empty())
      return fail(error);
  }
  // The pipeline uses upstream dialects' bufferization and lowering
  // interfaces, which live in their extensions.
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<dgc::dg::DgDialect>();
  // gpu-module-to-binary serialises kernels through the LLVM IR translation.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::MLIRContext context(registry);
  mlir::registerAllPasses();
  dgc::registerDgcPasses();
  if (fuseOpt && noFuseOpt) {
    llvm::errs() << "dgc compile: --fuse and --no-fuse exclude each other\n";
    return 1;
  }
  bool graphsGiven = StringRef(compileConfig).ends_with(".mlir");
  auto module = graphsGiven ? parseGraphs(compileConfig, context)
                            : importModel(compileConfig, context);
  if (!module)
    return 1;
  // A config's graphs are fused unless asked not to; given graphs are the
  // user's own and stay as written unless asked.
  bool fuse = graphsGiven ? fuseOpt.getValue() : !noFuseOpt;
  if (fuse && failed(dgc::runFusion(*module)))
    return 1;

  auto start = std::chrono::steady_clock::now();
  if (!emitOpt.empty() && cuda)
    return emitCuda(*module, cudaOptions);
  if (!emitOpt.empty()) {
    dgc::HostStage last =
        stage == dgc::HostStage::LLVMIR ? dgc::HostStage::LLVMDialect : stage;
    if (failed(dgc::runHostPipeline(*module, dgc::HostStage::Linalg, last,
                                    hostOptions)))
      return 1;
    return writeOutput(moduleOutput.empty() ? std::string("-")
                                            : std::string(moduleOutput),
                       [&](raw_ostream &os) {
                         if (stage == dgc::HostStage::LLVMIR)
                           return succeeded(dgc::printLLVMIR(*module, os));
                         module->print(os);
                         return true;
                       });
  }
  std::string error, written;
  if (host) {
    errs() << "dgc: compiling " << compileConfig << " for host...\n";
    // The cuda target lowers the same graphs: it gets its own copy.
    mlir::OwningOpRef<mlir::ModuleOp> hostModule(
        cuda ? cast<mlir::ModuleOp>((*module)->clone()) : module.release());
    if (failed(dgc::compileForHost(*hostModule, moduleOutput, error, &errs(),
                                   hostOptions)))
      return fail(error.empty() ? "compilation failed" : error);
    written = "host.so";
    if (!cuda)
      module = std::move(hostModule);
  }
  if (cuda) {
    errs() << "dgc: compiling " << compileConfig << " for cuda ("
           << cudaOptions.chip << ")...\n";
    if (failed(dgc::compileForCuda(*module, moduleOutput, cudaOptions, error,
                                   &errs())))
      return fail(error.empty() ? "compilation failed" : error);
    written += std::string(written.empty() ? "" : ", ") + "cuda.so, ptx/";
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  errs() << "dgc: wrote " << moduleOutput << " (manifest.json, " << written
         << ") in " << format("%.1f", seconds) << " s\n";
  return 0;
}

std::string count(int64_t n) {
  char buf[32];
  double x = static_cast<double>(n);
  if (x >= 1e9)
    snprintf(buf, sizeof(buf), "%.2f B", x / 1e9);
  else if (x >= 1e6)
    snprintf(buf, sizeof(buf), "%.2f M", x / 1e6);
  else
    snprintf(buf, sizeof(buf), "%.1f K", x / 1e3);
  return buf;
}

std::string layerPattern(const dgc::TextConfig &t) {
  std::string s;
  for (dgc::LayerType type : t.layerTypes)
    s += type == dgc::LayerType::Sliding ? 'S' : 'F';
  return s;
}

int runSummary() {
  dgc::BuildOptions options;
  if (!checkNotEmpty() || !parseOptions(options))
    return 1;
  int status = 0;
  for (const std::string &path : summaryConfigs) {
    dgc::ModelConfig config;
    dgc::GenerationConfig generation;
    if (!loadConfigs(path, config, generation)) {
      status = 1;
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    mlir::MLIRContext context;
    auto module = dgc::buildModel(context, config, generation, options);
    if (!module)
      return fail("internal error: the built graphs of " + path +
                  " do not verify");
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    const dgc::TextConfig &t = config.text;
    outs() << path << "\n";
    outs() << "  DiffusionGemma: " << count(config.parameterCount())
           << " parameters, " << count(config.activeParameterCount())
           << " active per token; " << t.numLayers << " layers "
           << layerPattern(t) << " (S sliding, F full)\n";
    outs() << "  hidden " << t.hiddenSize << ", vocab " << t.vocabSize
           << ", canvas " << config.canvasLength << ", experts top-"
           << t.topKExperts << " of " << t.numExperts << "; dtype "
           << (options.dtype.empty() ? config.dtype : options.dtype) << "\n";
    for (dgc::LayerType type :
         {dgc::LayerType::Sliding, dgc::LayerType::Full}) {
      if (!t.countLayers(type))
        continue;
      const dgc::AttentionGeometry &g = t.geometry(type);
      outs() << "  " << dgc::layerTypeName(type) << ": " << t.numHeads
             << " query heads, " << g.numKvHeads << " KV heads x " << g.headDim
             << (g.hasValueProjection ? ", v_proj" : ", V = K") << ", rope "
             << dgc::ropeTypeName(g.rope.type) << " theta "
             << format("%g", g.rope.theta);
      if (g.rope.type == dgc::RopeType::Proportional)
        outs() << " factor " << format("%g", g.rope.partialRotaryFactor);
      if (g.window)
        outs() << ", window " << g.window;
      outs() << "\n";
    }
    const dgc::runtime::GenerationOptions &g = generation.options;
    outs() << "  sampler: " << g.maxDenoisingSteps << " steps max, temperature "
           << format("%g", g.tMax) << " -> " << format("%g", g.tMin)
           << ", entropy bound " << format("%g", g.entropyBound) << "\n";
    outs() << dgc::summarizeModule(*module);
    outs() << "  built and verified in " << format("%.2f", seconds) << " s\n\n";
  }
  return status;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(dgcCategory);
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << DGC_VERSION_LINE << "\n";
    cl::PrintVersionMessage(); // then LLVM's own
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "dgc: the DiffusionGemma compiler\n\n"
      "  dgc import CONFIG.json [-o OUT.mlir]  the unfused graphs as dg IR\n"
      "  dgc compile CONFIG.json -o MODEL.dgm  a module the runtime loads\n"
      "  dgc compile GRAPHS.mlir -o MODEL.dgm the same from dg IR (such as\n"
      "                                       dgc import's, edited)\n"
      "  dgc summary CONFIG.json...            a readable summary of the "
      "graphs\n\n"
      "CONFIG.json is a Hugging Face config.json of DiffusionGemma; a "
      "generation_config.json beside it is read too.\n"
      "Run 'dgc SUBCOMMAND --help' for the options of each subcommand.\n");
  if (importCmd)
    return runImport();
  if (compileCmd)
    return runCompile();
  if (summaryCmd)
    return runSummary();
  return fail("expected a subcommand: import, compile or summary (see dgc "
              "--help)");
}
