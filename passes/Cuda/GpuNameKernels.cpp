//===- GpuNameKernels.cpp - Kernels named after the part they compute -----===//
//
// gpu-kernel-outlining names every kernel after its host function: the
// 1674 kernels of a 26B-A4B step were all `decoder_kernel` to a profiler,
// told apart only by launch shape. The graph builder names its ops after
// the part of the model they belong to, and the lowerings of fused ops
// their steps (NameLocs, nested: "moe" around "dispatch"); here each kernel
// module and its kernel take the name its first launch carries
// ("moe_dispatch", then "moe_dispatch_1", ...). A launch without a name
// keeps its kernel's.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUNAMEKERNELS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// The names `loc` carries, outermost part first: a NameLoc "dispatch"
/// around a NameLoc "moe" is "moe.dispatch". Empty if none.
std::string nameIn(Location loc) {
  if (auto named = dyn_cast<NameLoc>(loc)) {
    std::string outer = nameIn(named.getChildLoc());
    return (outer.empty() ? "" : outer + ".") + named.getName().str();
  }
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location part : fused.getLocations())
      if (std::string name = nameIn(part); !name.empty())
        return name;
  if (auto call = dyn_cast<CallSiteLoc>(loc))
    return nameIn(call.getCallee());
  return "";
}

/// `name` as a PTX identifier: letters, digits and underscores.
std::string symbolFor(StringRef name) {
  std::string symbol;
  for (char c : name)
    symbol += llvm::isAlnum(c) ? c : '_';
  if (symbol.empty() || llvm::isDigit(symbol.front()))
    symbol.insert(0, "k_");
  return symbol;
}

struct GpuNameKernels : impl::DgGpuNameKernelsBase<GpuNameKernels> {
  void runOnOperation() override {
    ModuleOp top = getOperation();
    llvm::StringSet<> used;
    for (Operation &op : *top.getBody())
      if (auto name =
              op.getAttrOfType<StringAttr>(SymbolTable::getSymbolAttrName()))
        used.insert(name.getValue());
    auto unique = [&](StringRef base) {
      std::string name = base.str();
      for (unsigned n = 1; used.contains(name); ++n)
        name = (base + "_" + Twine(n)).str();
      used.insert(name);
      return name;
    };

    SymbolTable symbols(top);
    DenseMap<StringAttr, SymbolRefAttr> renamed;
    top.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr moduleName = launch.getKernelModuleName();
      if (auto done = renamed.find(moduleName); done != renamed.end()) {
        launch.setKernelAttr(done->second);
        return;
      }
      std::string part = nameIn(launch.getLoc());
      auto module = symbols.lookup<gpu::GPUModuleOp>(moduleName);
      if (part.empty() || !module)
        return;
      auto kernels = llvm::to_vector(module.getOps<gpu::GPUFuncOp>());
      if (kernels.size() != 1)
        return;
      StringAttr name = StringAttr::get(&getContext(), unique(symbolFor(part)));
      module.setSymName(name);
      kernels.front().setName(name);
      renamed[moduleName] =
          SymbolRefAttr::get(name, {FlatSymbolRefAttr::get(name)});
      launch.setKernelAttr(renamed[moduleName]);
    });
  }
};

} // namespace
} // namespace dgc
