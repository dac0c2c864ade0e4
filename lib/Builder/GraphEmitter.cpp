//===- GraphEmitter.cpp - Emits dg ops with their result types inferred ---===//

#include "GraphEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace dgc {

ArrayRef<int64_t> GraphEmitter::shapeOf(Value v) {
  return llvm::cast<RankedTensorType>(v.getType()).getShape();
}

static Type elementOf(Value v) {
  return llvm::cast<RankedTensorType>(v.getType()).getElementType();
}

RankedTensorType GraphEmitter::tensor(ArrayRef<int64_t> shape,
                                      Type elementType) const {
  return RankedTensorType::get(shape, elementType ? elementType : dtype);
}

Value GraphEmitter::weight(StringRef name, ArrayRef<int64_t> shape) {
  Value &slot = weights[name];
  if (!slot) {
    slot = dg::WeightOp::create(b, loc, tensor(shape), b.getStringAttr(name));
  } else {
    assert(shapeOf(slot) == shape && "one weight used with two shapes");
  }
  return slot;
}

Value GraphEmitter::scalar(double value, Type elementType) {
  Type type = elementType ? elementType : dtype;
  auto attr = DenseElementsAttr::get(RankedTensorType::get({}, type),
                                     FloatAttr::get(type, value));
  return arith::ConstantOp::create(b, loc, attr);
}

Value GraphEmitter::scalarI32(int32_t value) {
  auto attr = DenseElementsAttr::get(RankedTensorType::get({}, b.getI32Type()),
                                     b.getI32IntegerAttr(value));
  return arith::ConstantOp::create(b, loc, attr);
}

Value GraphEmitter::matmul(Value lhs, Value rhs, bool transposeRhs,
                           Type resultElementType) {
  ArrayRef<int64_t> ls = shapeOf(lhs), rs = shapeOf(rhs);
  auto batch = dg::broadcastShapes(ls.drop_back(2), rs.drop_back(2));
  assert(succeeded(batch) && "matmul batch dimensions do not broadcast");
  SmallVector<int64_t> shape = *batch;
  shape.push_back(ls[ls.size() - 2]);
  shape.push_back(transposeRhs ? rs[rs.size() - 2] : rs.back());
  auto op = dg::MatmulOp::create(
      b, loc,
      tensor(shape, resultElementType ? resultElementType : elementOf(lhs)),
      lhs, rhs, /*transpose_lhs=*/false, transposeRhs);
  return op.getResult();
}

GraphEmitter::Scope::Scope(GraphEmitter &emitter, StringRef name)
    : emitter(emitter), saved(emitter.loc) {
  emitter.loc = NameLoc::get(emitter.b.getStringAttr(name), emitter.loc);
}

/// The part of the model a Linear weight belongs to: its name without the
/// layer's prefix and ".weight" ("model.decoder.layers.3.mlp.gate_proj.weight"
/// is "mlp.gate_proj").
static std::string partOf(StringRef weightName) {
  SmallVector<StringRef> parts;
  weightName.consume_back(".weight");
  weightName.split(parts, '.');
  size_t layer = 0;
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i] == "layers" || parts[i] == "decoder" || parts[i] == "encoder")
      layer = i + 1 + (parts[i] == "layers");
  return llvm::join(ArrayRef(parts).drop_front(layer), ".");
}

Value GraphEmitter::linear(Value x, StringRef weightName, int64_t out) {
  Value w = weight(weightName, {out, shapeOf(x).back()});
  // The weight's name says it all: not within the scopes around.
  Location scoped = loc;
  loc = NameLoc::get(b.getStringAttr(partOf(weightName)), baseLoc);
  Value product = matmul(x, w, /*transposeRhs=*/true);
  loc = scoped;
  return product;
}

Value GraphEmitter::rmsNorm(Value x, std::optional<StringRef> weightName,
                            double eps) {
  Value w = weightName ? weight(*weightName, {shapeOf(x).back()}) : Value();
  return dg::RMSNormOp::create(b, loc, x, w, eps);
}

Value GraphEmitter::rope(Value x, Value positions, dg::RopeKind kind,
                         double theta, double partialRotaryFactor) {
  return dg::RopeOp::create(b, loc, x.getType(), x, positions,
                            dg::RopeKindAttr::get(b.getContext(), kind),
                            b.getF64FloatAttr(theta),
                            b.getF64FloatAttr(partialRotaryFactor));
}

Value GraphEmitter::gatedGelu(Value gate, Value up) {
  return dg::GatedGeluOp::create(b, loc, gate, up);
}

Value GraphEmitter::softmax(Value x, int64_t axis) {
  return dg::SoftmaxOp::create(b, loc, x, axis);
}

Value GraphEmitter::reduce(Value x, dg::ReduceKind kind, int64_t axis) {
  SmallVector<int64_t> shape(shapeOf(x));
  shape.erase(shape.begin() + axis);
  return dg::ReduceOp::create(b, loc, tensor(shape, elementOf(x)), x, kind,
                              axis);
}

std::pair<Value, Value> GraphEmitter::topK(Value x, int64_t k) {
  SmallVector<int64_t> shape(shapeOf(x).drop_back());
  shape.push_back(k);
  auto op = dg::TopKOp::create(b, loc, tensor(shape, elementOf(x)),
                               tensor(shape, b.getI32Type()), x, k);
  return {op.getValues(), op.getIndices()};
}

Value GraphEmitter::argmax(Value x) {
  return dg::ArgmaxOp::create(
      b, loc, tensor(shapeOf(x).drop_back(), b.getI32Type()), x);
}

Value GraphEmitter::categoricalSample(Value logits, Value seeds) {
  return dg::CategoricalSampleOp::create(
      b, loc, tensor(shapeOf(logits).drop_back(), b.getI32Type()), logits,
      seeds);
}

Value GraphEmitter::gather(Value table, Value indices) {
  SmallVector<int64_t> shape(shapeOf(indices));
  llvm::append_range(shape, shapeOf(table).drop_front());
  return dg::GatherOp::create(b, loc, tensor(shape, elementOf(table)), table,
                              indices);
}

Value GraphEmitter::scatter(Value values, Value indices, int64_t size) {
  SmallVector<int64_t> shape(shapeOf(values).drop_back());
  shape.push_back(size);
  return dg::ScatterOp::create(b, loc, tensor(shape, elementOf(values)), values,
                               indices, size);
}

Value GraphEmitter::mask(Value queryPositions, Value keyPositions,
                         Value committedLengths, dg::MaskKind kind,
                         int64_t window, Value spans) {
  ArrayRef<int64_t> q = shapeOf(queryPositions), k = shapeOf(keyPositions);
  return dg::MaskOp::create(b, loc, tensor({q[0], q[1], k[1]}), queryPositions,
                            keyPositions, committedLengths, spans, kind,
                            window);
}

Value GraphEmitter::iota(int64_t n) {
  return dg::IotaOp::create(b, loc, tensor({n}, b.getI32Type()));
}

Value GraphEmitter::patchPool(Value x, Value positions, int64_t kernel,
                              int64_t outputLength) {
  ArrayRef<int64_t> s = shapeOf(x);
  return dg::PatchPoolOp::create(
      b, loc, tensor({s[0], outputLength, s[2]}, elementOf(x)), x, positions,
      kernel, outputLength);
}

Value GraphEmitter::reshape(Value x, ArrayRef<int64_t> shape) {
  return dg::ReshapeOp::create(b, loc, tensor(shape, elementOf(x)), x);
}

Value GraphEmitter::transpose(Value x, ArrayRef<int64_t> permutation) {
  SmallVector<int64_t> shape;
  for (int64_t p : permutation)
    shape.push_back(shapeOf(x)[p]);
  return dg::TransposeOp::create(b, loc, tensor(shape, elementOf(x)), x,
                                 permutation);
}

Value GraphEmitter::slice(Value x, int64_t axis, int64_t start, int64_t size) {
  SmallVector<int64_t> shape(shapeOf(x));
  shape[axis] = size;
  return dg::SliceOp::create(b, loc, tensor(shape, elementOf(x)), x, axis,
                             start, size);
}

Value GraphEmitter::repeatInterleave(Value x, int64_t axis, int64_t repeats) {
  if (repeats == 1)
    return x;
  SmallVector<int64_t> shape(shapeOf(x));
  if (!ShapedType::isDynamic(shape[axis]))
    shape[axis] *= repeats;
  return dg::RepeatInterleaveOp::create(b, loc, tensor(shape, elementOf(x)), x,
                                        axis, repeats);
}

Value GraphEmitter::cast(Value x, Type elementType) {
  if (elementOf(x) == elementType)
    return x;
  return dg::CastOp::create(b, loc, tensor(shapeOf(x), elementType), x);
}

template <typename OpTy> Value GraphEmitter::binary(Value lhs, Value rhs) {
  auto shape = dg::broadcastShapes(shapeOf(lhs), shapeOf(rhs));
  assert(succeeded(shape) && "operands do not broadcast");
  return OpTy::create(b, loc, tensor(*shape, elementOf(lhs)), lhs, rhs);
}

Value GraphEmitter::add(Value a, Value c) { return binary<dg::AddOp>(a, c); }
Value GraphEmitter::sub(Value a, Value c) { return binary<dg::SubOp>(a, c); }
Value GraphEmitter::mul(Value a, Value c) { return binary<dg::MulOp>(a, c); }
Value GraphEmitter::div(Value a, Value c) { return binary<dg::DivOp>(a, c); }
Value GraphEmitter::tanh(Value x) { return dg::TanhOp::create(b, loc, x); }

void GraphEmitter::kvWrite(Value cache, int64_t layer, Value key, Value value,
                           Value positions, bool scratch) {
  dg::KVCacheWriteOp::create(b, loc, cache, key, value, positions, layer,
                             scratch);
}

std::tuple<Value, Value, Value> GraphEmitter::kvRead(Value cache, int64_t layer,
                                                     Value lengths) {
  auto type = llvm::cast<dg::KVCacheType>(cache.getType());
  int64_t batch = shapeOf(lengths)[0];
  RankedTensorType rows =
      tensor({batch, kDyn, type.getNumKvHeads(), type.getHeadDim()},
             type.getElementType());
  auto op = dg::KVCacheReadOp::create(b, loc, rows, rows,
                                      tensor({batch, kDyn}, b.getI32Type()),
                                      cache, lengths, layer);
  return {op.getKeys(), op.getValues(), op.getPositions()};
}

} // namespace dgc
