//===- GraphBuilder.cpp - DiffusionGemma config -> dg module --------------===//

#include "dgc/GraphBuilder.h"

#include "Graphs.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

namespace dgc {

void loadBuilderDialects(MLIRContext &context) {
  context.loadDialect<dg::DgDialect, func::FuncDialect, arith::ArithDialect>();
}

func::FuncOp createGraph(GraphEmitter &e, ModuleOp module, StringRef name,
                         ArrayRef<std::pair<StringRef, Type>> inputs,
                         ArrayRef<std::pair<StringRef, Type>> outputs) {
  OpBuilder &b = e.builder();
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> in, out;
  for (auto &[n, t] : inputs)
    in.push_back(t);
  for (auto &[n, t] : outputs)
    out.push_back(t);
  auto func = func::FuncOp::create(b, module.getLoc(), name,
                                   b.getFunctionType(in, out));
  for (auto [i, input] : llvm::enumerate(inputs))
    func.setArgAttr(i, dg::kNameAttrName, b.getStringAttr(input.first));
  for (auto [i, output] : llvm::enumerate(outputs))
    func.setResultAttr(i, dg::kNameAttrName, b.getStringAttr(output.first));
  b.setInsertionPointToStart(func.addEntryBlock());
  e.beginGraph();
  return func;
}

static Type elementTypeFor(MLIRContext &ctx, const std::string &dtype) {
  if (dtype == "float32")
    return Float32Type::get(&ctx);
  if (dtype == "float16")
    return Float16Type::get(&ctx);
  return BFloat16Type::get(&ctx);
}

/// Facts the runtime and readers need that the graphs alone do not say.
static void annotateModule(ModuleOp module, const ModelConfig &config,
                           const GenerationConfig &gen, Type dtype) {
  Builder b(module.getContext());
  auto i64 = [&](int64_t v) { return b.getI64IntegerAttr(v); };
  const TextConfig &t = config.text;
  auto tokens = dg::TokensAttr::get(b.getContext(), t.padTokenId, t.bosTokenId,
                                    b.getDenseI64ArrayAttr(config.eosTokenIds),
                                    config.boiTokenId, config.eoiTokenId,
                                    config.imageTokenId);
  // What the runtime needs to cut images into the vision graph's patches.
  dg::VisionAttr vision;
  if (config.vision)
    vision = dg::VisionAttr::get(b.getContext(), config.vision->patchSize,
                                 config.vision->poolingKernelSize,
                                 config.visionSoftTokensPerImage);
  // Every option under its module name, as the runtime's reader of
  // model.generation takes it back (generationFields()).
  SmallVector<NamedAttribute> options;
  const runtime::GenerationOptions &g = gen.options;
  for (const runtime::GenerationField &f : runtime::generationFields()) {
    Attribute value;
    if (f.integer)
      value = i64(g.*f.integer);
    else if (f.real)
      value = b.getF64FloatAttr(g.*f.real);
    else if (f.tokenId)
      value = i64(g.*f.tokenId);
    else
      value = b.getDenseI64ArrayAttr(
          std::vector<int64_t>((g.*f.tokenIds).begin(), (g.*f.tokenIds).end()));
    options.push_back(b.getNamedAttr(f.name, value));
  }
  DictionaryAttr generation = b.getDictionaryAttr(options);
  // The config's values, for the runtime to compare with a checkpoint's.
  SmallVector<NamedAttribute> values;
  for (const auto &[path, text] : config.valuesRead)
    values.push_back(b.getNamedAttr(path, b.getStringAttr(text)));
  module->setAttr(dg::kModelAttrName,
                  dg::ModelAttr::get(b.getContext(), "diffusion_gemma", dtype,
                                     config.canvasLength, t.vocabSize,
                                     t.hiddenSize, t.maxPositionEmbeddings,
                                     tokens, generation, vision,
                                     b.getDictionaryAttr(values)));
}

OwningOpRef<ModuleOp> buildModel(MLIRContext &context,
                                 const ModelConfig &config,
                                 const GenerationConfig &generation,
                                 const BuildOptions &options) {
  loadBuilderDialects(context);
  Type dtype = elementTypeFor(context, options.dtype.empty() ? config.dtype
                                                             : options.dtype);
  Location loc = FileLineColLoc::get(&context, config.path, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  annotateModule(*module, config, generation, dtype);
  OpBuilder builder(&context);
  GraphEmitter emitter(builder, loc, dtype);
  if (options.vision && config.vision)
    buildVisionGraph(emitter, *module, config);
  if (options.encoder)
    buildEncoderGraph(emitter, *module, config);
  if (options.decoder)
    buildDecoderGraph(emitter, *module, config);
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace dgc
