//===- Summary.cpp - A readable account of a built dg module --------------===//

#include "dgc/GraphBuilder.h"

#include "Graphs.h"
#include "dg/DgDialect.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace mlir;

namespace dgc {
namespace {

std::string typeStr(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  type.print(os);
  return s;
}

std::string humanCount(double n) {
  char buf[32];
  if (n >= 1e9)
    snprintf(buf, sizeof(buf), "%.2f G", n / 1e9);
  else if (n >= 1e6)
    snprintf(buf, sizeof(buf), "%.2f M", n / 1e6);
  else if (n >= 1e3)
    snprintf(buf, sizeof(buf), "%.1f K", n / 1e3);
  else
    snprintf(buf, sizeof(buf), "%.0f", n);
  return buf;
}

const char *graphRole(StringRef name) {
  if (name == "encoder")
    return "causal prefill and canvas commit; writes the KV cache";
  if (name == "decoder")
    return "one denoise step over a batch of canvases";
  if (name == "vision")
    return "image patches to soft tokens";
  return "";
}

double elementCount(ShapedType type) {
  double n = 1;
  for (int64_t d : type.getShape())
    n *= static_cast<double>(d);
  return n;
}

void printNamedTypes(llvm::raw_ostream &os, const char *label, TypeRange types,
                     ArrayRef<DictionaryAttr> attrs) {
  os << "    " << label << ":\n";
  for (auto [i, type] : llvm::enumerate(types)) {
    StringAttr name = attrs.empty() || !attrs[i]
                          ? StringAttr()
                          : attrs[i].getAs<StringAttr>(dg::kNameAttrName);
    os << "      " << llvm::left_justify(name ? name.getValue() : "?", 20)
       << typeStr(type) << "\n";
  }
}

} // namespace

std::string summarizeModule(ModuleOp module) {
  std::string out;
  llvm::raw_string_ostream os(out);
  llvm::StringSet<> allWeights;
  double allParameters = 0;

  for (auto func : module.getOps<func::FuncOp>()) {
    os << "  @" << func.getName() << ": " << graphRole(func.getName()) << "\n";
    SmallVector<DictionaryAttr> argAttrs, resAttrs;
    func.getAllArgAttrs(argAttrs);
    func.getAllResultAttrs(resAttrs);
    printNamedTypes(os, "inputs", func.getArgumentTypes(), argAttrs);
    printNamedTypes(os, "outputs", func.getResultTypes(), resAttrs);

    std::map<std::string, int64_t> opCounts;
    llvm::StringSet<> weights;
    double parameters = 0;
    int64_t total = 0;
    func.walk([&](Operation *op) {
      if (op == func.getOperation())
        return;
      ++total;
      ++opCounts[op->getName().getStringRef().str()];
      if (auto w = dyn_cast<dg::WeightOp>(op)) {
        double n = elementCount(w.getType());
        if (weights.insert(w.getName()).second)
          parameters += n;
        if (allWeights.insert(w.getName()).second)
          allParameters += n;
      }
    });
    for (Type type : func.getArgumentTypes())
      if (auto cache = dyn_cast<dg::KVCacheType>(type))
        os << "    kv cache: " << dg::stringifyLayerKind(cache.getKind())
           << " pool, " << cache.getNumLayers() << " layers x "
           << cache.getNumKvHeads() << " heads x " << cache.getHeadDim()
           << (cache.getWindow()
                   ? " (window " + std::to_string(cache.getWindow()) + ")"
                   : std::string())
           << "\n";
    os << "    weights: " << weights.size() << " tensors, "
       << humanCount(parameters) << " parameters\n";
    os << "    ops: " << total << " (";
    // Most frequent first, so the shape of the graph shows at a glance.
    std::vector<std::pair<int64_t, std::string>> byCount;
    for (auto &[name, n] : opCounts)
      byCount.push_back({-n, name});
    std::sort(byCount.begin(), byCount.end());
    for (auto [i, entry] : llvm::enumerate(byCount))
      os << (i ? ", " : "") << entry.second << " " << -entry.first;
    os << ")\n";
  }

  // KV bytes per token, over every pool (K and V).
  double kvBytes = 0;
  if (auto decoder = module.lookupSymbol<func::FuncOp>("decoder"))
    for (Type type : decoder.getArgumentTypes())
      if (auto cache = dyn_cast<dg::KVCacheType>(type))
        kvBytes += 2.0 * cache.getNumLayers() * cache.getNumKvHeads() *
                   cache.getHeadDim() *
                   cache.getElementType().getIntOrFloatBitWidth() / 8;
  os << "  checkpoint: " << allWeights.size() << " tensors, "
     << humanCount(allParameters) << " parameters";
  if (kvBytes > 0)
    os << "; KV cache " << llvm::format("%.1f", kvBytes / 1024)
       << " KiB per token";
  os << "\n";
  return out;
}

} // namespace dgc
