//===- DgOps.cpp - Verifiers, builders and folders of the dg ops ----------===//

#include "dg/DgDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace dgc::dg;

namespace {

/// Two dimensions agree when equal or when either is dynamic.
bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + dimStr(d);
  return s + "]";
}

/// Checks that `actual` has the shape `expected` (dimension by dimension,
/// dynamic dimensions agreeing with anything).
LogicalResult verifyShape(Operation *op, StringRef what,
                          ArrayRef<int64_t> expected, ShapedType actual) {
  ArrayRef<int64_t> shape = actual.getShape();
  bool ok = shape.size() == expected.size();
  for (size_t i = 0; ok && i < shape.size(); ++i)
    ok = dimsAgree(shape[i], expected[i]);
  if (!ok)
    return op->emitOpError()
           << what << " must have shape " << shapeStr(expected) << ", got "
           << shapeStr(shape);
  return success();
}

LogicalResult verifyRank(Operation *op, StringRef what, ShapedType type,
                         int64_t rank) {
  if (type.getRank() != rank)
    return op->emitOpError() << what << " must have rank " << rank << ", got "
                             << shapeStr(type.getShape());
  return success();
}

LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank)
    return op->emitOpError()
           << "axis " << axis << " is out of range for rank " << rank;
  return success();
}

LogicalResult verifySameElementType(Operation *op, StringRef what, Type a,
                                    Type b) {
  Type ea = getElementTypeOrSelf(a), eb = getElementTypeOrSelf(b);
  if (ea != eb)
    return op->emitOpError() << what << " must share an element type, got "
                             << ea << " and " << eb;
  return success();
}

LogicalResult verifyKVRows(Operation *op, StringRef what, KVCacheType cache,
                           RankedTensorType rows) {
  if (failed(verifyRank(op, what, rows, 4)))
    return failure();
  if (rows.getDimSize(2) != cache.getNumKvHeads() ||
      rows.getDimSize(3) != cache.getHeadDim())
    return op->emitOpError()
           << what << " rows must be [" << cache.getNumKvHeads() << " x "
           << cache.getHeadDim() << "] to match the cache, got "
           << shapeStr(rows.getShape());
  if (rows.getElementType() != cache.getElementType())
    return op->emitOpError()
           << what << " element type " << rows.getElementType()
           << " differs from the cache's " << cache.getElementType();
  return success();
}

LogicalResult verifyLayer(Operation *op, KVCacheType cache, int64_t layer) {
  if (layer < 0 || layer >= cache.getNumLayers())
    return op->emitOpError()
           << "layer " << layer << " is out of range for a cache pool of "
           << cache.getNumLayers() << " layers";
  return success();
}

} // namespace

FailureOr<SmallVector<int64_t>> dgc::dg::broadcastShapes(ArrayRef<int64_t> a,
                                                         ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1)
      out[i] = db;
    else if (db == 1)
      out[i] = da;
    else if (dimsAgree(da, db))
      out[i] = ShapedType::isDynamic(da) ? db : da;
    else
      return failure();
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Weights and the KV cache
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty checkpoint tensor name");
  if (llvm::any_of(getName(), [](char c) { return isspace(c); }))
    return emitOpError() << "checkpoint tensor name '" << getName()
                         << "' contains whitespace";
  return success();
}

LogicalResult KVCacheWriteOp::verify() {
  auto cache = getCache().getType();
  auto key = cast<RankedTensorType>(getKey().getType());
  auto value = cast<RankedTensorType>(getValue().getType());
  auto positions = cast<RankedTensorType>(getPositions().getType());
  if (failed(verifyLayer(*this, cache, int64_t(getLayer()))) ||
      failed(verifyKVRows(*this, "key", cache, key)) ||
      failed(verifyKVRows(*this, "value", cache, value)) ||
      failed(verifyShape(*this, "value", key.getShape(), value)))
    return failure();
  return verifyShape(*this, "positions", {key.getDimSize(0), key.getDimSize(1)},
                     positions);
}

LogicalResult KVCacheReadOp::verify() {
  auto cache = getCache().getType();
  auto lengths = cast<RankedTensorType>(getLengths().getType());
  auto keys = cast<RankedTensorType>(getKeys().getType());
  auto values = cast<RankedTensorType>(getValues().getType());
  auto positions = cast<RankedTensorType>(getPositions().getType());
  if (failed(verifyLayer(*this, cache, int64_t(getLayer()))) ||
      failed(verifyRank(*this, "lengths", lengths, 1)) ||
      failed(verifyKVRows(*this, "keys", cache, keys)) ||
      failed(verifyKVRows(*this, "values", cache, values)) ||
      failed(verifyShape(*this, "values", keys.getShape(), values)))
    return failure();
  if (!dimsAgree(keys.getDimSize(0), lengths.getDimSize(0)))
    return emitOpError() << "keys hold " << dimStr(keys.getDimSize(0))
                         << " requests but lengths has "
                         << dimStr(lengths.getDimSize(0));
  return verifyShape(*this, "positions",
                     {keys.getDimSize(0), keys.getDimSize(1)}, positions);
}

//===----------------------------------------------------------------------===//
// Linear algebra, normalisation, position encodings
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::verify() {
  auto lhs = cast<RankedTensorType>(getLhs().getType());
  auto rhs = cast<RankedTensorType>(getRhs().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return emitOpError() << "operands must have rank >= 2, got "
                         << shapeStr(lhs.getShape()) << " and "
                         << shapeStr(rhs.getShape());
  if (failed(verifySameElementType(*this, "lhs and rhs", lhs, rhs)))
    return failure();
  ArrayRef<int64_t> ls = lhs.getShape(), rs = rhs.getShape();
  int64_t m = ls[ls.size() - 2], kl = ls.back();
  if (getTransposeLhs())
    std::swap(m, kl);
  int64_t kr = rs[rs.size() - 2], n = rs.back();
  if (getTransposeRhs())
    std::swap(kr, n);
  if (!dimsAgree(kl, kr))
    return emitOpError() << "contracting dimensions differ: lhs has "
                         << dimStr(kl) << ", rhs has " << dimStr(kr);
  auto batch = broadcastShapes(ls.drop_back(2), rs.drop_back(2));
  if (failed(batch))
    return emitOpError() << "batch dimensions " << shapeStr(ls.drop_back(2))
                         << " and " << shapeStr(rs.drop_back(2))
                         << " do not broadcast";
  SmallVector<int64_t> expected = *batch;
  expected.append({m, n});
  return verifyShape(*this, "result", expected, result);
}

void RMSNormOp::build(OpBuilder &builder, OperationState &state, Value input,
                      Value weight, double epsilon) {
  build(builder, state, input, weight, builder.getF64FloatAttr(epsilon));
}

LogicalResult RMSNormOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError("epsilon must be >= 0");
  if (Value weight = getWeight()) {
    auto wt = cast<RankedTensorType>(weight.getType());
    if (failed(verifySameElementType(*this, "input and weight", input, wt)))
      return failure();
    return verifyShape(*this, "weight", {input.getShape().back()}, wt);
  }
  return success();
}

LogicalResult RopeOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto positions = cast<RankedTensorType>(getPositions().getType());
  if (failed(verifyRank(*this, "input", input, 4)))
    return failure();
  int64_t headDim = input.getDimSize(3);
  if (ShapedType::isDynamic(headDim) || headDim % 2 != 0)
    return emitOpError() << "head_dim must be static and even, got "
                         << dimStr(headDim);
  if (getTheta().convertToDouble() <= 0)
    return emitOpError("theta must be positive");
  double factor = getPartialRotaryFactor().convertToDouble();
  if (!(factor > 0 && factor <= 1))
    return emitOpError() << "partial_rotary_factor must lie in (0, 1], got "
                         << factor;
  SmallVector<int64_t> posShape = {input.getDimSize(0), input.getDimSize(1)};
  switch (getKind()) {
  case RopeKind::default_:
    if (factor != 1)
      return emitOpError("partial_rotary_factor applies only to proportional "
                         "rope");
    break;
  case RopeKind::proportional: {
    double pairs = factor * headDim / 2;
    if (pairs != static_cast<int64_t>(pairs))
      return emitOpError() << "partial_rotary_factor " << factor
                           << " does not select a whole number of the "
                           << headDim / 2 << " frequency pairs";
    break;
  }
  case RopeKind::two_d:
    if (headDim % 4 != 0)
      return emitOpError() << "two_d rope needs head_dim divisible by 4, got "
                           << headDim;
    if (factor != 1)
      return emitOpError("partial_rotary_factor applies only to proportional "
                         "rope");
    posShape.push_back(2);
    break;
  }
  return verifyShape(*this, "positions", posShape, positions);
}

//===----------------------------------------------------------------------===//
// Softmax, reductions, selection
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return verifyAxis(*this, int64_t(getAxis()),
                    cast<RankedTensorType>(getInput().getType()).getRank());
}

LogicalResult ReduceOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyAxis(*this, int64_t(getAxis()), input.getRank())) ||
      failed(verifySameElementType(*this, "input and result", input,
                                   getResult().getType())))
    return failure();
  if (!isa<FloatType>(input.getElementType()) && getKind() != ReduceKind::max)
    return emitOpError() << stringifyReduceKind(getKind())
                         << " needs a float input, got "
                         << input.getElementType();
  SmallVector<int64_t> expected(input.getShape());
  expected.erase(expected.begin() + int64_t(getAxis()));
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult TopKOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  int64_t k = int64_t(getK());
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  int64_t last = input.getShape().back();
  if (k <= 0 || (!ShapedType::isDynamic(last) && k > last))
    return emitOpError() << "k must lie in [1, " << dimStr(last) << "], got "
                         << k;
  if (failed(verifySameElementType(*this, "input and values", input,
                                   getValues().getType())))
    return failure();
  SmallVector<int64_t> expected(input.getShape().drop_back());
  expected.push_back(k);
  if (failed(verifyShape(*this, "values", expected,
                         cast<ShapedType>(getValues().getType()))))
    return failure();
  return verifyShape(*this, "indices", expected,
                     cast<ShapedType>(getIndices().getType()));
}

LogicalResult ArgmaxOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  return verifyShape(*this, "result", input.getShape().drop_back(),
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult CategoricalSampleOp::verify() {
  auto logits = cast<RankedTensorType>(getLogits().getType());
  if (logits.getRank() < 1)
    return emitOpError("logits must have rank >= 1");
  ArrayRef<int64_t> rows = logits.getShape().drop_back();
  if (failed(verifyShape(*this, "seeds", rows,
                         cast<ShapedType>(getSeeds().getType()))))
    return failure();
  return verifyShape(*this, "result", rows,
                     cast<ShapedType>(getResult().getType()));
}

//===----------------------------------------------------------------------===//
// Gather, scatter, masks, positions
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::verify() {
  auto table = cast<RankedTensorType>(getTable().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  if (table.getRank() < 1)
    return emitOpError("table must have rank >= 1");
  if (failed(verifySameElementType(*this, "table and result", table,
                                   getResult().getType())))
    return failure();
  SmallVector<int64_t> expected(indices.getShape());
  llvm::append_range(expected, table.getShape().drop_front());
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult ScatterOp::verify() {
  auto values = cast<RankedTensorType>(getValues().getType());
  if (int64_t(getSize()) <= 0)
    return emitOpError() << "size must be positive, got " << int64_t(getSize());
  if (values.getRank() < 1)
    return emitOpError("values must have rank >= 1");
  if (failed(verifyShape(*this, "indices", values.getShape(),
                         cast<ShapedType>(getIndices().getType()))) ||
      failed(verifySameElementType(*this, "values and result", values,
                                   getResult().getType())))
    return failure();
  SmallVector<int64_t> expected(values.getShape().drop_back());
  expected.push_back(int64_t(getSize()));
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult MaskOp::verify() {
  auto q = cast<RankedTensorType>(getQueryPositions().getType());
  auto k = cast<RankedTensorType>(getKeyPositions().getType());
  if (failed(verifyRank(*this, "query_positions", q, 2)) ||
      failed(verifyRank(*this, "key_positions", k, 2)))
    return failure();
  if (!dimsAgree(q.getDimSize(0), k.getDimSize(0)))
    return emitOpError() << "query and key positions have different batch "
                            "sizes: "
                         << dimStr(q.getDimSize(0)) << " and "
                         << dimStr(k.getDimSize(0));
  if (int64_t(getWindow()) < 0)
    return emitOpError() << "window must be >= 0, got " << int64_t(getWindow());
  bool isCanvas = getKind() == MaskKind::canvas;
  if (isCanvas != static_cast<bool>(getCommittedLengths()))
    return emitOpError() << "committed_lengths "
                         << (isCanvas ? "is required by" : "is meaningless for")
                         << " a " << stringifyMaskKind(getKind()) << " mask";
  if (getKind() == MaskKind::bidirectional && int64_t(getWindow()) != 0)
    return emitOpError("a bidirectional mask has no window");
  if (Value committed = getCommittedLengths())
    if (failed(verifyShape(*this, "committed_lengths", {q.getDimSize(0)},
                           cast<ShapedType>(committed.getType()))))
      return failure();
  if (Value spans = getSpans()) {
    if (getKind() != MaskKind::causal)
      return emitOpError() << "spans are meaningless for a "
                           << stringifyMaskKind(getKind()) << " mask";
    if (failed(verifyShape(*this, "spans",
                           {q.getDimSize(0), q.getDimSize(1), 2},
                           cast<ShapedType>(spans.getType()))))
      return failure();
  }
  return verifyShape(*this, "result",
                     {q.getDimSize(0), q.getDimSize(1), k.getDimSize(1)},
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult IotaOp::verify() {
  auto type = cast<RankedTensorType>(getResult().getType());
  if (type.getRank() != 1 || !type.hasStaticShape())
    return emitOpError() << "result must be a static rank-1 tensor, got "
                         << shapeStr(type.getShape());
  return success();
}

LogicalResult PatchPoolOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyRank(*this, "input", input, 3)))
    return failure();
  if (int64_t(getKernel()) <= 0 || int64_t(getOutputLength()) <= 0)
    return emitOpError() << "kernel and output_length must be positive, got "
                         << int64_t(getKernel()) << " and "
                         << int64_t(getOutputLength());
  if (failed(verifyShape(*this, "positions",
                         {input.getDimSize(0), input.getDimSize(1), 2},
                         cast<ShapedType>(getPositions().getType()))) ||
      failed(verifySameElementType(*this, "input and result", input,
                                   getResult().getType())))
    return failure();
  return verifyShape(
      *this, "result",
      {input.getDimSize(0), int64_t(getOutputLength()), input.getDimSize(2)},
      cast<ShapedType>(getResult().getType()));
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (failed(verifySameElementType(*this, "input and result", input, result)))
    return failure();
  auto staticProduct = [](ArrayRef<int64_t> shape) {
    int64_t p = 1;
    for (int64_t d : shape)
      if (!ShapedType::isDynamic(d))
        p *= d;
    return p;
  };
  if (input.getNumDynamicDims() != result.getNumDynamicDims() ||
      staticProduct(input.getShape()) != staticProduct(result.getShape()))
    return emitOpError() << "cannot reshape " << shapeStr(input.getShape())
                         << " to " << shapeStr(result.getShape())
                         << ": dynamic dimensions must carry over one to one "
                            "and static sizes must multiply to the same count";
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

LogicalResult TransposeOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  ArrayRef<int64_t> perm = getPermutation();
  if (static_cast<int64_t>(perm.size()) != input.getRank())
    return emitOpError() << "permutation has " << perm.size()
                         << " entries for rank " << input.getRank();
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> expected;
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || seen[p])
      return emitOpError("permutation must be a permutation of 0..rank-1");
    seen[p] = true;
    expected.push_back(input.getDimSize(p));
  }
  if (failed(verifySameElementType(*this, "input and result", input,
                                   getResult().getType())))
    return failure();
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult SliceOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyAxis(*this, int64_t(getAxis()), input.getRank())))
    return failure();
  int64_t dim = input.getDimSize(int64_t(getAxis()));
  if (int64_t(getStart()) < 0 || int64_t(getSize()) <= 0 ||
      (!ShapedType::isDynamic(dim) &&
       int64_t(getStart()) + int64_t(getSize()) > dim))
    return emitOpError() << "slice [" << int64_t(getStart()) << ", "
                         << int64_t(getStart()) + int64_t(getSize())
                         << ") does not fit axis " << int64_t(getAxis())
                         << " of size " << dimStr(dim);
  if (failed(verifySameElementType(*this, "input and result", input,
                                   getResult().getType())))
    return failure();
  SmallVector<int64_t> expected(input.getShape());
  expected[int64_t(getAxis())] = int64_t(getSize());
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult RepeatInterleaveOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyAxis(*this, int64_t(getAxis()), input.getRank())))
    return failure();
  if (int64_t(getRepeats()) < 1)
    return emitOpError() << "repeats must be >= 1, got "
                         << int64_t(getRepeats());
  if (failed(verifySameElementType(*this, "input and result", input,
                                   getResult().getType())))
    return failure();
  SmallVector<int64_t> expected(input.getShape());
  int64_t &dim = expected[int64_t(getAxis())];
  if (!ShapedType::isDynamic(dim))
    dim *= int64_t(getRepeats());
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// Elementwise arithmetic
//===----------------------------------------------------------------------===//

static LogicalResult verifyBinary(Operation *op) {
  auto lhs = cast<RankedTensorType>(op->getOperand(0).getType());
  auto rhs = cast<RankedTensorType>(op->getOperand(1).getType());
  auto result = cast<RankedTensorType>(op->getResult(0).getType());
  if (failed(verifySameElementType(op, "operands", lhs, rhs)) ||
      failed(verifySameElementType(op, "operands and result", lhs, result)))
    return failure();
  auto shape = broadcastShapes(lhs.getShape(), rhs.getShape());
  if (failed(shape))
    return op->emitOpError() << "shapes " << shapeStr(lhs.getShape()) << " and "
                             << shapeStr(rhs.getShape()) << " do not broadcast";
  return verifyShape(op, "result", *shape, result);
}

LogicalResult AddOp::verify() { return verifyBinary(*this); }
LogicalResult SubOp::verify() { return verifyBinary(*this); }
LogicalResult MulOp::verify() { return verifyBinary(*this); }
LogicalResult DivOp::verify() { return verifyBinary(*this); }

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

LogicalResult MoEOp::verify() {
  auto routerInput = cast<RankedTensorType>(getRouterInput().getType());
  auto expertInput = cast<RankedTensorType>(getExpertInput().getType());
  auto gateUp = cast<RankedTensorType>(getGateUp().getType());
  auto down = cast<RankedTensorType>(getDown().getType());
  auto proj = cast<RankedTensorType>(getRouterProj().getType());
  if (failed(verifyRank(*this, "gate_up", gateUp, 3)) ||
      failed(verifyRank(*this, "down", down, 3)) ||
      failed(verifyRank(*this, "router_proj", proj, 2)))
    return failure();
  int64_t experts = gateUp.getDimSize(0), hidden = gateUp.getDimSize(2);
  int64_t width = gateUp.getDimSize(1) / 2;
  if (gateUp.getDimSize(1) % 2 != 0)
    return emitOpError() << "gate_up must stack gate and up rows, got "
                         << gateUp.getDimSize(1) << " rows";
  if (failed(verifyShape(*this, "down", {experts, hidden, width}, down)) ||
      failed(verifyShape(*this, "router_proj", {experts, hidden}, proj)) ||
      failed(verifyShape(*this, "router_scale", {hidden},
                         cast<ShapedType>(getRouterScale().getType()))) ||
      failed(verifyShape(*this, "per_expert_scale", {experts},
                         cast<ShapedType>(getPerExpertScale().getType()))) ||
      failed(verifyShape(*this, "expert_input", routerInput.getShape(),
                         expertInput)) ||
      failed(verifyShape(*this, "result", routerInput.getShape(),
                         cast<ShapedType>(getResult().getType()))))
    return failure();
  if (routerInput.getShape().back() != hidden)
    return emitOpError() << "router_input has width "
                         << dimStr(routerInput.getShape().back())
                         << ", the experts " << hidden;
  if (int64_t(getTopK()) < 1 || int64_t(getTopK()) > experts)
    return emitOpError() << "top_k must lie in [1, " << experts << "], got "
                         << int64_t(getTopK());
  return success();
}

LogicalResult SampleOp::verify() {
  auto hidden = cast<RankedTensorType>(getHidden().getType());
  auto table = cast<RankedTensorType>(getEmbedding().getType());
  if (failed(verifyRank(*this, "hidden", hidden, 3)) ||
      failed(verifyRank(*this, "embedding", table, 2)))
    return failure();
  int64_t batch = hidden.getDimSize(0), positions = hidden.getDimSize(1);
  int64_t vocab = table.getDimSize(0), k = int64_t(getTopK());
  if (!dimsAgree(hidden.getDimSize(2), table.getDimSize(1)))
    return emitOpError() << "hidden width " << dimStr(hidden.getDimSize(2))
                         << " differs from the embedding's "
                         << dimStr(table.getDimSize(1));
  if (k < 1 || k > vocab)
    return emitOpError() << "top_k must lie in [1, " << vocab << "], got " << k;
  if (getSoftcap().convertToDouble() < 0)
    return emitOpError("softcap must be >= 0");
  auto shaped = [](Value v) { return cast<ShapedType>(v.getType()); };
  if (failed(verifyShape(*this, "temperature", {batch},
                         shaped(getTemperature()))) ||
      failed(verifyShape(*this, "logits", {batch, positions, vocab},
                         shaped(getLogits()))) ||
      failed(verifyShape(*this, "argmax", {batch, positions},
                         shaped(getArgmax()))) ||
      failed(verifyShape(*this, "topk_probs", {batch, positions, k},
                         shaped(getTopkProbs()))) ||
      failed(verifyShape(*this, "topk_ids", {batch, positions, k},
                         shaped(getTopkIds()))) ||
      failed(verifyShape(*this, "entropy", {batch, positions},
                         shaped(getEntropy()))))
    return failure();
  return success();
}

LogicalResult SoftEmbeddingOp::verify() {
  auto logits = cast<RankedTensorType>(getLogits().getType());
  auto table = cast<RankedTensorType>(getEmbedding().getType());
  if (failed(verifyRank(*this, "embedding", table, 2)))
    return failure();
  if (logits.getRank() < 1 ||
      !dimsAgree(logits.getShape().back(), table.getDimSize(0)))
    return emitOpError() << "logits cover "
                         << dimStr(logits.getRank() ? logits.getShape().back()
                                                    : 0)
                         << " tokens, the embedding " << table.getDimSize(0);
  SmallVector<int64_t> expected(logits.getShape().drop_back());
  expected.push_back(table.getDimSize(1));
  if (failed(verifySameElementType(*this, "embedding and result", table,
                                   getResult().getType())))
    return failure();
  return verifyShape(*this, "result", expected,
                     cast<ShapedType>(getResult().getType()));
}

LogicalResult AttentionOp::verify() {
  auto q = cast<RankedTensorType>(getQ().getType());
  auto k = cast<RankedTensorType>(getK().getType());
  if (failed(verifyRank(*this, "q", q, 4)) ||
      failed(verifyRank(*this, "k", k, 4)) ||
      failed(verifyShape(*this, "v", k.getShape(),
                         cast<ShapedType>(getV().getType()))) ||
      failed(verifyShape(*this, "result", q.getShape(),
                         cast<ShapedType>(getResult().getType()))))
    return failure();
  if (q.getDimSize(3) != k.getDimSize(3) ||
      q.getDimSize(2) % k.getDimSize(2) != 0)
    return emitOpError() << "queries " << shapeStr(q.getShape())
                         << " do not group over the keys "
                         << shapeStr(k.getShape());
  if (Value cache = getCache()) {
    auto type = cast<KVCacheType>(cache.getType());
    if (failed(verifyLayer(*this, type, int64_t(getLayer()))) ||
        failed(verifyKVRows(*this, "k", type, k)))
      return failure();
    if (getMask() == MaskKind::bidirectional || getKeyPositions())
      return emitOpError("a cached attention is causal or canvas and reads "
                         "its key positions from the cache");
    bool canvas = getMask() == MaskKind::canvas;
    if (canvas != static_cast<bool>(getCommittedLengths()))
      return emitOpError("committed_lengths go with, and only with, a canvas "
                         "mask");
    if (canvas != getScratch())
      return emitOpError("a canvas attention writes scratch, a causal one "
                         "commits");
  } else {
    if (getMask() != MaskKind::bidirectional || !getKeyPositions() ||
        getCommittedLengths() || getScratch())
      return emitOpError("an attention without a cache is bidirectional over "
                         "its key_positions");
    if (failed(verifyShape(*this, "key_positions",
                           {q.getDimSize(0), q.getDimSize(1)},
                           cast<ShapedType>(getKeyPositions().getType()))))
      return failure();
  }
  if (Value spans = getSpans()) {
    if (getMask() != MaskKind::causal)
      return emitOpError("spans go with a causal mask only");
    if (failed(verifyShape(*this, "spans",
                           {q.getDimSize(0), q.getDimSize(1), 2},
                           cast<ShapedType>(spans.getType()))))
      return failure();
  }
  return success();
}

LogicalResult MaskedAttentionOp::verify() {
  auto q = cast<ShapedType>(getQ().getType());
  auto keys = cast<ShapedType>(getKeys().getType());
  Value rows = getRows();
  bool onTensors = isa<RankedTensorType>(q);
  SmallVector<Value, 6> operands = {getQ(), getKeys(), getValues(), getMask(),
                                    getInit()};
  if (rows)
    operands.push_back(rows);
  for (Value operand : operands) {
    Type type = operand.getType();
    if (onTensors ? !isa<RankedTensorType>(type) : !isa<MemRefType>(type))
      return emitOpError("operands are all ranked tensors or all memrefs");
  }
  if (onTensors != static_cast<bool>(getResult()))
    return emitOpError(onTensors ? "on tensors the op has a result"
                                 : "on memrefs the op writes init and has "
                                   "no result");
  if (failed(verifyRank(*this, "q", q, 4)))
    return failure();
  // The keys per request: the rows' second dimension in the paged form,
  // where keys and values are pools of rows.
  int64_t keyCount;
  if (rows) {
    auto rowsType = cast<ShapedType>(rows.getType());
    if (!rowsType.getElementType().isInteger(64))
      return emitOpError("rows must hold i64 pool rows");
    if (failed(verifyRank(*this, "keys", keys, 3)) ||
        failed(verifyShape(*this, "rows",
                           {q.getDimSize(0), ShapedType::kDynamic, 2},
                           rowsType)))
      return failure();
    keyCount = rowsType.getDimSize(1);
  } else {
    if (failed(verifyRank(*this, "keys", keys, 4)))
      return failure();
    keyCount = keys.getDimSize(1);
  }
  if (failed(verifyShape(*this, "values", keys.getShape(),
                         cast<ShapedType>(getValues().getType()))) ||
      failed(verifyShape(*this, "mask",
                         {q.getDimSize(0), q.getDimSize(1), keyCount},
                         cast<ShapedType>(getMask().getType()))) ||
      failed(verifyShape(*this, "init", q.getShape(),
                         cast<ShapedType>(getInit().getType()))))
    return failure();
  if (getResult() && getResult().getType() != getInit().getType())
    return emitOpError("result type differs from init's");
  int64_t rowRank = keys.getRank();
  int64_t heads = q.getDimSize(2), kvHeads = keys.getDimSize(rowRank - 2);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(kvHeads) ||
      !dimsAgree(q.getDimSize(3), keys.getDimSize(rowRank - 1)) ||
      kvHeads == 0 || heads % kvHeads != 0)
    return emitOpError() << "queries " << shapeStr(q.getShape())
                         << " do not group over the keys "
                         << shapeStr(keys.getShape());
  return success();
}

// On tensors the op is pure; on memrefs it reads its inputs and writes init.
void MaskedAttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (getResult())
    return;
  for (OpOperand *input : {&getQMutable(), &getKeysMutable(),
                           &getValuesMutable(), &getMaskMutable()})
    effects.emplace_back(MemoryEffects::Read::get(), input,
                         SideEffects::DefaultResource::get());
  for (OpOperand &rows : getRowsMutable())
    effects.emplace_back(MemoryEffects::Read::get(), &rows,
                         SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getInitMutable(),
                       SideEffects::DefaultResource::get());
}

// Bufferization: reads its inputs, writes init in place.
bool MaskedAttentionOp::bufferizesToMemoryRead(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return &operand != &getInitMutable();
}

bool MaskedAttentionOp::bufferizesToMemoryWrite(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return &operand == &getInitMutable();
}

bufferization::AliasingValueList
MaskedAttentionOp::getAliasingValues(OpOperand &operand,
                                     const bufferization::AnalysisState &) {
  if (&operand != &getInitMutable())
    return {};
  return {{getResult(), bufferization::BufferRelation::Equivalent}};
}

LogicalResult
MaskedAttentionOp::bufferize(RewriterBase &rewriter,
                             const bufferization::BufferizationOptions &options,
                             bufferization::BufferizationState &state) {
  SmallVector<Value> buffers;
  for (Value operand :
       {getQ(), getKeys(), getValues(), getMask(), getInit(), getRows()}) {
    if (!operand) {
      buffers.push_back(Value());
      continue;
    }
    FailureOr<Value> buffer =
        bufferization::getBuffer(rewriter, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  MaskedAttentionOp::create(rewriter, getLoc(), Type(), buffers[0], buffers[1],
                            buffers[2], buffers[3], buffers[5], buffers[4],
                            getScaleAttr());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, buffers[4]);
  return success();
}

#define GET_OP_CLASSES
#include "dg/DgOps.cpp.inc"
