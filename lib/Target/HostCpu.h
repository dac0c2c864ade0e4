//===- HostCpu.h - The x86-64 CPU of a host library -----------*- C++ -*-===//
//
// Internal to the targets. `dgc compile --cpu` names the CPU whose features
// the host code may use: `native` (the default: this machine's CPU and all
// its features), `generic` (baseline x86-64, runs anywhere), or any LLVM x86
// CPU name (`x86-64-v3`, `znver4`, `sapphirerapids`). The features the
// code then needs are recorded in the manifest, in the names Linux gives them
// in /proc/cpuinfo, so that the runtime can refuse a machine without them.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_LIB_TARGET_HOSTCPU_H
#define DGC_LIB_TARGET_HOSTCPU_H

#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dgc {

struct HostCpu {
  std::string name;     // LLVM's CPU name
  std::string features; // LLVM feature string ("+avx2,-amx-tile,...")
  /// The /proc/cpuinfo flags the code may use (avx2, fma, avx512f, ...).
  std::vector<std::string> requiredFlags;
  /// Vector registers the host's tiles may hold: 32 with AVX-512VL (its
  /// ymm16-31), else 16.
  int64_t vectorRegisters = 16;
};

/// The CPU `requested` names, or nullopt with `error` saying why not.
std::optional<HostCpu> resolveHostCpu(const std::string &requested,
                                      std::string &error);

/// An x86-64 target machine (PIC) for `cpu`, generating code at `level`.
std::unique_ptr<llvm::TargetMachine>
hostMachine(const HostCpu &cpu, std::string &error,
            llvm::CodeGenOptLevel level = llvm::CodeGenOptLevel::Aggressive);

} // namespace dgc

#endif // DGC_LIB_TARGET_HOSTCPU_H
