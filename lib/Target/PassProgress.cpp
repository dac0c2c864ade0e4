//===- PassProgress.cpp - A live line of a pipeline's progress ------------===//

#include "PassProgress.h"

#include "dgc/HostTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

using namespace mlir;

namespace dgc {
namespace {

llvm::raw_ostream *progressStream = nullptr;

class PassProgress : public PassInstrumentation {
public:
  PassProgress(llvm::raw_ostream &os, unsigned passes)
      : os(os), passes(passes) {}
  ~PassProgress() override {
    std::lock_guard<std::mutex> lock(mutex);
    os << "\r\033[K";
    os.flush();
  }

  void runBeforePass(Pass *pass, Operation *op) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!isa<ModuleOp>(op) || op->getParentOp())
      return;
    // A top-level pass; an adaptor (no argument) runs nested pipelines.
    ++pass_;
    top = op;
    current = pass->getArgument().empty() ? std::string("nested passes")
                                          : pass->getArgument().str();
    nestedDone = nestedTotal = 0;
    nestedKind.clear();
    show();
  }

  void runBeforePipeline(std::optional<OperationName> name,
                         const PipelineParentInfo &) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!name || !top || name->getStringRef() == nestedKind)
      return;
    // The first op of a kind: count them all.
    nestedKind = name->getStringRef().str();
    nestedDone = nestedTotal = 0;
    for (Operation &child : cast<ModuleOp>(top).getBody()->getOperations())
      nestedTotal += child.getName() == *name;
  }

  void runAfterPipeline(std::optional<OperationName> name,
                        const PipelineParentInfo &) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!name || nestedTotal == 0)
      return;
    ++nestedDone;
    // Rewriting the line thousands of times would cost more than it tells.
    if (nestedDone == nestedTotal || nestedDone % 16 == 0)
      show();
  }

private:
  void show() {
    os << "\r\033[K  pass " << pass_ << " of " << passes << " ("
       << (100 * (pass_ - 1) / std::max(1u, passes)) << "%): " << current;
    if (nestedTotal)
      os << ", " << nestedDone << " of " << nestedTotal << " "
         << (nestedKind == "gpu.module" ? "kernels" : "functions");
    os.flush();
  }

  llvm::raw_ostream &os;
  std::mutex mutex;
  unsigned passes, pass_ = 0;
  Operation *top = nullptr;
  std::string current, nestedKind;
  unsigned nestedDone = 0, nestedTotal = 0;
};

} // namespace

void setCompileProgress(llvm::raw_ostream *os) { progressStream = os; }

void clearProgress() {
  if (!progressStream)
    return;
  *progressStream << "\r\033[K";
  progressStream->flush();
}

void showProgress(const llvm::Twine &what) {
  if (!progressStream)
    return;
  *progressStream << "\r\033[K  " << what;
  progressStream->flush();
}

void addPassProgress(PassManager &pm) {
  if (progressStream)
    pm.addInstrumentation(
        std::make_unique<PassProgress>(*progressStream, pm.size()));
}

} // namespace dgc
