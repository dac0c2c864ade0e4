//===- GraphEmitter.h - Emits dg ops with their result types inferred -----===//
//
// Internal to the graph builder. Each helper computes the result type of the
// op it emits, so the graph code reads like the model's math.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_LIB_BUILDER_GRAPHEMITTER_H
#define DGC_LIB_BUILDER_GRAPHEMITTER_H

#include "dg/DgDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include <optional>

namespace dgc {

class GraphEmitter {
public:
  GraphEmitter(mlir::OpBuilder &builder, mlir::Location loc, mlir::Type dtype)
      : dtype(dtype), b(builder), baseLoc(loc), loc(loc) {}

  mlir::OpBuilder &builder() { return b; }
  /// The element type activations and weights compute with.
  mlir::Type dtype;

  static constexpr int64_t kDyn = mlir::ShapedType::kDynamic;
  static llvm::ArrayRef<int64_t> shapeOf(mlir::Value v);
  mlir::RankedTensorType tensor(llvm::ArrayRef<int64_t> shape,
                                mlir::Type elementType = {}) const;

  /// A checkpoint tensor; one dg.weight per name and graph.
  mlir::Value weight(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);
  /// A rank-0 constant to broadcast.
  mlir::Value scalar(double value, mlir::Type elementType = {});
  mlir::Value scalarI32(int32_t value);

  mlir::Value matmul(mlir::Value lhs, mlir::Value rhs, bool transposeRhs,
                     mlir::Type resultElementType = {});
  /// `x @ W^T` for a checkpoint Linear weight `[out, in]`.
  mlir::Value linear(mlir::Value x, llvm::StringRef weightName, int64_t out);
  mlir::Value rmsNorm(mlir::Value x, std::optional<llvm::StringRef> weightName,
                      double eps);
  mlir::Value rope(mlir::Value x, mlir::Value positions, dg::RopeKind kind,
                   double theta, double partialRotaryFactor = 1.0);
  mlir::Value gatedGelu(mlir::Value gate, mlir::Value up);
  mlir::Value softmax(mlir::Value x, int64_t axis);
  mlir::Value reduce(mlir::Value x, dg::ReduceKind kind, int64_t axis);
  std::pair<mlir::Value, mlir::Value> topK(mlir::Value x, int64_t k);
  mlir::Value argmax(mlir::Value x);
  /// One draw from softmax(logits) per row, decided by `seeds` (i32).
  mlir::Value categoricalSample(mlir::Value logits, mlir::Value seeds);
  mlir::Value gather(mlir::Value table, mlir::Value indices);
  mlir::Value scatter(mlir::Value values, mlir::Value indices, int64_t size);
  mlir::Value mask(mlir::Value queryPositions, mlir::Value keyPositions,
                   mlir::Value committedLengths, dg::MaskKind kind,
                   int64_t window, mlir::Value spans = {});
  mlir::Value iota(int64_t n);
  mlir::Value patchPool(mlir::Value x, mlir::Value positions, int64_t kernel,
                        int64_t outputLength);

  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> permutation);
  mlir::Value slice(mlir::Value x, int64_t axis, int64_t start, int64_t size);
  mlir::Value repeatInterleave(mlir::Value x, int64_t axis, int64_t repeats);
  /// No op when `x` already has `elementType`.
  mlir::Value cast(mlir::Value x, mlir::Type elementType);

  mlir::Value add(mlir::Value a, mlir::Value b);
  mlir::Value sub(mlir::Value a, mlir::Value b);
  mlir::Value mul(mlir::Value a, mlir::Value b);
  mlir::Value div(mlir::Value a, mlir::Value b);
  mlir::Value tanh(mlir::Value x);

  void kvWrite(mlir::Value cache, int64_t layer, mlir::Value key,
               mlir::Value value, mlir::Value positions, bool scratch);
  /// Returns keys, values and key positions.
  std::tuple<mlir::Value, mlir::Value, mlir::Value>
  kvRead(mlir::Value cache, int64_t layer, mlir::Value lengths);

  /// Forgets the weights of the previous graph.
  void beginGraph() { weights.clear(); }

  /// Names the ops emitted while it lives after a part of the model (a
  /// NameLoc, "moe" or "self_attn", around the current location; scopes
  /// nest): the kernels they become take the name (dg-gpu-name-kernels),
  /// so a profile says which part each kernel computes. `linear` names its
  /// product after its weight ("self_attn.q_proj") whatever the scope.
  class Scope {
  public:
    Scope(GraphEmitter &emitter, llvm::StringRef name);
    ~Scope() { emitter.loc = saved; }
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;

  private:
    GraphEmitter &emitter;
    mlir::Location saved;
  };

private:
  template <typename OpTy> mlir::Value binary(mlir::Value a, mlir::Value b);

  mlir::OpBuilder &b;
  /// The graph's location, and the current scope's name around it.
  mlir::Location baseLoc;
  mlir::Location loc;
  llvm::StringMap<mlir::Value> weights;
};

} // namespace dgc

#endif // DGC_LIB_BUILDER_GRAPHEMITTER_H
