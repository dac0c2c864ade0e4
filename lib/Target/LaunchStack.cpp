//===- LaunchStack.cpp - Each launch's argument arrays freed after it -----===//
//
// MLIR's translation of gpu.launch_func allocates, where the launch is, a
// struct of the kernel's arguments and an array of pointers to them, which
// mgpuLaunchKernel reads and forgets. In the entry block those allocas are
// static: the 26B-A4B decoder's 1674 launches made a stack frame of 730 KB,
// more than a thread with a small stack holds. Here the allocas of each
// launch live between an llvm.stacksave and an llvm.stackrestore around it,
// in a block other than the entry (which is split once, at the first), so
// the stack holds one launch's arguments at a time.
//
//===----------------------------------------------------------------------===//

#include "SharedObject.h"

#include "llvm/Analysis/ValueTracking.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"

namespace dgc {
namespace {

/// Whether every use of `value`, through GEPs, is in `block` before `call`
/// (a store to it or of it, a GEP of it) or is `call` itself.
bool usedOnlyToLaunch(llvm::Value *value, llvm::Instruction *call) {
  for (llvm::User *user : value->users()) {
    auto *inst = llvm::dyn_cast<llvm::Instruction>(user);
    if (!inst || inst->getParent() != call->getParent())
      return false;
    if (inst == call)
      continue;
    if (!inst->comesBefore(call))
      return false;
    if (llvm::isa<llvm::StoreInst>(inst))
      continue;
    if (auto *gep = llvm::dyn_cast<llvm::GetElementPtrInst>(inst)) {
      if (!usedOnlyToLaunch(gep, call))
        return false;
      continue;
    }
    return false;
  }
  return true;
}

/// mgpuLaunchKernel's array of pointers to the arguments.
constexpr unsigned kParamsOperand = 9;

/// The allocas that only feed `call`: its array of argument pointers, and
/// the structs those pointers point into; earliest first, or none if any
/// of them has another use.
llvm::SmallVector<llvm::AllocaInst *> launchAllocas(llvm::CallInst *call) {
  auto *params = llvm::dyn_cast<llvm::AllocaInst>(
      call->getArgOperand(kParamsOperand)->stripPointerCasts());
  if (!params)
    return {};
  llvm::SmallVector<llvm::AllocaInst *> found = {params};
  for (llvm::User *slot : params->users())
    for (llvm::User *store : slot->users())
      if (auto *s = llvm::dyn_cast<llvm::StoreInst>(store))
        if (auto *arguments = llvm::dyn_cast<llvm::AllocaInst>(
                llvm::getUnderlyingObject(s->getValueOperand())))
          if (!llvm::is_contained(found, arguments))
            found.push_back(arguments);
  for (llvm::AllocaInst *alloca : found)
    if (alloca->getParent() != call->getParent() ||
        !usedOnlyToLaunch(alloca, call))
      return {};
  llvm::sort(found, [](llvm::AllocaInst *a, llvm::AllocaInst *b) {
    return a->comesBefore(b);
  });
  return found;
}

} // namespace

void scopeLaunchArguments(llvm::Module &module) {
  llvm::Function *launch = module.getFunction("mgpuLaunchKernel");
  if (!launch)
    return;
  llvm::SmallVector<llvm::CallInst *> calls;
  for (llvm::User *user : launch->users())
    if (auto *call = llvm::dyn_cast<llvm::CallInst>(user);
        call && call->getCalledFunction() == launch)
      calls.push_back(call);
  // Found before anything changes: each insertion would make the next
  // order query renumber the whole block.
  llvm::SmallVector<std::pair<llvm::CallInst *, llvm::Instruction *>> scopes;
  for (llvm::CallInst *call : calls) {
    llvm::SmallVector<llvm::AllocaInst *> allocas = launchAllocas(call);
    if (!allocas.empty())
      scopes.push_back({call, allocas.front()});
  }
  for (auto [call, first] : scopes) {
    llvm::BasicBlock *block = first->getParent();
    // Allocas of the entry block are the frame's: start another block.
    if (block->isEntryBlock())
      block->splitBasicBlock(first, "launches");
    llvm::IRBuilder<> builder(first);
    llvm::Value *saved = builder.CreateStackSave();
    builder.SetInsertPoint(call->getNextNode());
    builder.CreateStackRestore(saved);
  }
}

} // namespace dgc
