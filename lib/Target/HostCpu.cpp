//===- HostCpu.cpp - The x86-64 CPU a host library is compiled for --------===//

#include "HostCpu.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

namespace dgc {
namespace {

/// LLVM's names of the x86 features code generation uses, and the flag
/// Linux reports each under. Baseline x86-64 (SSE2, CMOV, ...) is implied.
const std::pair<const char *, const char *> kFeatureFlags[] = {
    {"sse3", "pni"},
    {"ssse3", "ssse3"},
    {"sse4.1", "sse4_1"},
    {"sse4.2", "sse4_2"},
    {"popcnt", "popcnt"},
    {"cx16", "cx16"},
    {"movbe", "movbe"},
    {"lzcnt", "abm"},
    {"bmi", "bmi1"},
    {"bmi2", "bmi2"},
    {"f16c", "f16c"},
    {"fma", "fma"},
    {"avx", "avx"},
    {"avx2", "avx2"},
    {"avxvnni", "avx_vnni"},
    {"avx512f", "avx512f"},
    {"avx512dq", "avx512dq"},
    {"avx512cd", "avx512cd"},
    {"avx512bw", "avx512bw"},
    {"avx512vl", "avx512vl"},
    {"avx512ifma", "avx512ifma"},
    {"avx512vbmi", "avx512vbmi"},
    {"avx512vbmi2", "avx512_vbmi2"},
    {"avx512vnni", "avx512_vnni"},
    {"avx512bitalg", "avx512_bitalg"},
    {"avx512vpopcntdq", "avx512_vpopcntdq"},
    {"avx512bf16", "avx512_bf16"},
    {"avx512fp16", "avx512_fp16"},
    {"amx-tile", "amx_tile"},
    {"amx-bf16", "amx_bf16"},
    {"amx-int8", "amx_int8"},
    {"gfni", "gfni"},
    {"vaes", "vaes"},
    {"vpclmulqdq", "vpclmulqdq"},
};

const llvm::Target *x86Target(std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  return llvm::TargetRegistry::lookupTarget(
      llvm::Triple(llvm::sys::getDefaultTargetTriple()), error);
}

} // namespace

std::optional<HostCpu> resolveHostCpu(const std::string &requested,
                                      std::string &error) {
  const llvm::Target *target = x86Target(error);
  if (!target)
    return std::nullopt;
  HostCpu cpu;
  if (requested == "native") {
    cpu.name = llvm::sys::getHostCPUName().str();
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      cpu.features += std::string(cpu.features.empty() ? "" : ",") +
                      (feature.second ? "+" : "-") + feature.first().str();
  } else {
    cpu.name = requested == "generic" ? "x86-64" : requested;
  }
  // Checked first: LLVM would warn about an unknown name and go on.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(target->createMCSubtargetInfo(
      llvm::Triple(llvm::sys::getDefaultTargetTriple()), "", ""));
  if (!generic || !generic->isCPUStringValid(cpu.name)) {
    error = "--cpu: '" + requested +
            "' is not an x86-64 CPU LLVM knows (try native, generic, "
            "x86-64-v2, x86-64-v3, x86-64-v4 or a name such as znver4)";
    return std::nullopt;
  }
  auto machine = hostMachine(cpu, error);
  if (!machine)
    return std::nullopt;
  const llvm::MCSubtargetInfo *info = machine->getMCSubtargetInfo();
  for (const auto &[feature, flag] : kFeatureFlags)
    if (info->checkFeatures(std::string("+") + feature))
      cpu.requiredFlags.push_back(flag);
  if (info->checkFeatures("+avx512vl"))
    cpu.vectorRegisters = 32;
  return cpu;
}

std::unique_ptr<llvm::TargetMachine> hostMachine(const HostCpu &cpu,
                                                 std::string &error,
                                                 llvm::CodeGenOptLevel level) {
  const llvm::Target *target = x86Target(error);
  if (!target)
    return nullptr;
  std::string triple = llvm::sys::getDefaultTargetTriple();
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      llvm::Triple(triple), cpu.name, cpu.features, llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, level));
}

} // namespace dgc
