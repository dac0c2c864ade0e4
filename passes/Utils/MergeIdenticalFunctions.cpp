//===- MergeIdenticalFunctions.cpp - One copy of each outlined function ---===//
//
// Outlining makes one function per loop nest (host) or per kernel (CUDA),
// and the layers of a model repeat: in the tiny config 893 host nests are
// 214 distinct functions, 964 kernels 217. LLVM's cost is per function, so
// each duplicate is compile time spent for nothing. Two candidates are the
// same when they print the same with their own names (and, for a
// gpu.module, its kernels' names) replaced by placeholders; the first in
// module order stays, uses of the others point at it, and they are erased.
// Kernel modules named after different parts of the model
// (dg-gpu-name-kernels: `self_attn_k_proj_3`, `self_attn_v_proj`) stay
// apart even when their code is the same, so that a profile names each.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Threading.h"
#include "llvm/ADT/StringMap.h"

namespace dgc {
#define GEN_PASS_DEF_DGMERGEIDENTICALFUNCTIONS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// A function or kernel module that may be merged: its own name, and the
/// names of the kernels inside it (none for a function), in order.
struct Candidate {
  Operation *op;
  StringAttr name;
  SmallVector<StringAttr> kernels;
  std::string key;
};

/// Private functions with a body (what outlining makes; a public function
/// is an entry point the runtime calls by name), and gpu.modules.
std::optional<Candidate> asCandidate(Operation &op) {
  if (auto func = dyn_cast<func::FuncOp>(op)) {
    if (!func.isPrivate() || func.isExternal())
      return std::nullopt;
    return Candidate{&op, func.getSymNameAttr(), {}, {}};
  }
  if (auto module = dyn_cast<gpu::GPUModuleOp>(op)) {
    Candidate candidate{&op, module.getSymNameAttr(), {}, {}};
    for (auto kernel : module.getOps<gpu::GPUFuncOp>())
      candidate.kernels.push_back(kernel.getNameAttr());
    return candidate;
  }
  return std::nullopt;
}

/// The part of the model a kernel module's name says it computes: the name
/// without the number that tells the part's kernels apart. Outlining's own
/// names (`<function>_kernel`, numbered) say none: such kernels merge
/// across functions, as the prefill's and the denoise step's do.
StringRef partOf(StringRef name) {
  auto [part, number] = name.rsplit('_');
  if (number.empty() || !llvm::all_of(number, llvm::isDigit))
    part = name;
  return part.ends_with("_kernel") ? StringRef() : part;
}

/// The candidate's text with its names replaced by placeholders; the names
/// are restored before returning. Only the candidate's own op changes, so
/// candidates can be printed on several threads.
std::string keyOf(Candidate &candidate) {
  Operation *op = candidate.op;
  MLIRContext *ctx = op->getContext();
  StringRef nameAttr = SymbolTable::getSymbolAttrName();
  op->setAttr(nameAttr, StringAttr::get(ctx, "__dg_merge"));
  SmallVector<Operation *> kernels;
  if (auto module = dyn_cast<gpu::GPUModuleOp>(op))
    for (auto [index, kernel] :
         llvm::enumerate(module.getOps<gpu::GPUFuncOp>())) {
      kernel->setAttr(nameAttr,
                      StringAttr::get(ctx, "__dg_kernel" + Twine(index)));
      kernels.push_back(kernel);
    }
  std::string text;
  llvm::raw_string_ostream os(text);
  if (isa<gpu::GPUModuleOp>(op))
    os << partOf(candidate.name.getValue()) << '\n';
  op->print(os, OpPrintingFlags().useLocalScope().assumeVerified());
  op->setAttr(nameAttr, candidate.name);
  for (auto [kernel, name] : llvm::zip(kernels, candidate.kernels))
    kernel->setAttr(nameAttr, name);
  return text;
}

struct DgMergeIdenticalFunctions
    : impl::DgMergeIdenticalFunctionsBase<DgMergeIdenticalFunctions> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp top = getOperation();
    std::vector<Candidate> candidates;
    for (Operation &op : *top.getBody())
      if (std::optional<Candidate> candidate = asCandidate(op))
        candidates.push_back(std::move(*candidate));
    parallelForEach(&getContext(), candidates,
                    [](Candidate &c) { c.key = keyOf(c); });

    // Each duplicate's name, and each of its kernels' full references, to
    // those of the first candidate with its text.
    llvm::StringMap<const Candidate *> firstWithKey;
    DenseMap<StringAttr, StringAttr> renamed;
    DenseMap<SymbolRefAttr, SymbolRefAttr> renamedKernels;
    SmallVector<Operation *> duplicates;
    for (const Candidate &candidate : candidates) {
      auto [first, inserted] =
          firstWithKey.try_emplace(candidate.key, &candidate);
      if (inserted)
        continue;
      const Candidate &kept = *first->second;
      renamed[candidate.name] = kept.name;
      for (auto [from, to] : llvm::zip(candidate.kernels, kept.kernels))
        renamedKernels[SymbolRefAttr::get(candidate.name,
                                          {FlatSymbolRefAttr::get(from)})] =
            SymbolRefAttr::get(kept.name, {FlatSymbolRefAttr::get(to)});
      duplicates.push_back(candidate.op);
    }
    numMerged = duplicates.size();
    if (duplicates.empty())
      return;
    // Gone before the references are rewritten: nothing in them is kept.
    for (Operation *op : duplicates)
      op->erase();

    // A reference is replaced whole: its nested parts are kernel names,
    // which may spell a module's name too, and are never looked at alone.
    AttrTypeReplacer replacer;
    replacer.addReplacement(
        [&](SymbolRefAttr ref)
            -> std::optional<std::pair<Attribute, WalkResult>> {
          auto whole = [](Attribute attr) {
            return std::make_pair(attr, WalkResult::skip());
          };
          if (auto kernel = renamedKernels.find(ref);
              kernel != renamedKernels.end())
            return whole(kernel->second);
          auto root = renamed.find(ref.getRootReference());
          if (root == renamed.end())
            return whole(ref);
          if (ref.getNestedReferences().empty())
            return whole(FlatSymbolRefAttr::get(root->second));
          return whole(
              SymbolRefAttr::get(root->second, ref.getNestedReferences()));
        });
    replacer.recursivelyReplaceElementsIn(top, /*replaceAttrs=*/true,
                                          /*replaceLocs=*/false,
                                          /*replaceTypes=*/false);
  }
};

} // namespace
} // namespace dgc
