//===- manifest_fuzzer.cpp - libFuzzer target for module manifests --------===//

#include "dgc/runtime/Manifest.h"

#include <cstdlib>

using namespace dgc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  Result<Manifest> manifest = parseManifest(text, "fuzz/manifest.json");
  if (!manifest) {
    if (manifest.error().empty()) // Every failure must say why.
      std::abort();
    return 0;
  }
  // An accepted manifest keeps every weight inside the arena.
  for (const WeightSpec &w : manifest->weights)
    if (w.offset < 0 || w.offset + w.byteSize() > manifest->weightBytes)
      std::abort();
  return 0;
}
