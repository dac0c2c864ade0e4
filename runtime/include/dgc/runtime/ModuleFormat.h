//===- ModuleFormat.h - What dgc compile writes and the runtime reads -*- C++
//-*-===//
//
// The module directory's contract, declared once for both sides: the
// compiler (lib/Target) includes this header as the runtime does. Plain
// C++17, no dependencies. docs/module-format.md describes the format.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_MODULEFORMAT_H
#define DGC_RUNTIME_MODULEFORMAT_H

#include <cstdint>

namespace dgc::runtime {

/// manifest.json's "version". 2: a cache input is a pool and a table;
/// 3: targets; 4: SHA256SUMS and the libraries' manifest digest.
constexpr int kModuleFormatVersion = 4;

/// Every weight's offset in the arena is a multiple of this many bytes.
constexpr int64_t kWeightAlignment = 64;

/// The module's list of file digests, in `sha256sum` format.
constexpr const char *kModuleSumsFile = "SHA256SUMS";

/// A NUL-terminated string in every library of the module: the hex SHA-256
/// of the manifest it was compiled with, less its "targets" (which a compile
/// of another target extends), as nlohmann/json's compact dump() writes it.
/// A manifest edited and re-sealed in SHA256SUMS no longer matches its code.
constexpr const char *kManifestDigestSymbol = "dgc_manifest_sha256";

/// A host library's variable holding the function its parallel loop nests
/// hand their chunks to, `void (*)(void (*body)(void *context, int64_t
/// begin, int64_t end), void *context, int64_t count)`; null (as compiled)
/// runs each nest on the calling thread. The runtime points it at
/// hostParallelFor (HostThreads.h) when it loads the library.
constexpr const char *kParallelForSymbol = "dgc_parallel_for";

/// A KV-cache input's table (docs/module-format.md), [batch, header +
/// positions] of int64: per request the committed length, the page size,
/// the error cell, the first position listed, then a pool row per position.
/// Columns before the per-position rows:
constexpr int64_t kKVTableHeader = 4;
/// What the error cell holds while every write of the call was valid.
constexpr int64_t kKVTableNoError = INT64_MAX;

/// manifest.json's keys, as dgc compile writes them (lib/Target/Manifest.cpp,
/// the model's tokens and vision in lib/Builder) and the runtime reads them
/// (runtime/Manifest.cpp); docs/module-format.md describes each.
namespace manifest {
// The document.
inline constexpr const char kFormat[] = "format";
inline constexpr const char kFormatName[] = "dgc-module"; // kFormat's value
inline constexpr const char kVersion[] = "version";
inline constexpr const char kTargets[] = "targets";
inline constexpr const char kModel[] = "model";
inline constexpr const char kWeights[] = "weights";
inline constexpr const char kKVCache[] = "kv_cache";
inline constexpr const char kGraphs[] = "graphs";
// targets.<name>
inline constexpr const char kLibrary[] = "library";
inline constexpr const char kChip[] = "chip";
inline constexpr const char kDeviceMemory[] = "device_memory";
inline constexpr const char kCpu[] = "cpu";
inline constexpr const char kCpuFeatures[] = "cpu_features";
// model
inline constexpr const char kModelName[] = "model";
inline constexpr const char kDtype[] = "dtype"; // also of tensors and pools
inline constexpr const char kCanvasLength[] = "canvas_length";
inline constexpr const char kVocabSize[] = "vocab_size";
inline constexpr const char kHiddenSize[] = "hidden_size";
inline constexpr const char kMaxPositions[] = "max_positions";
inline constexpr const char kTokens[] = "tokens";
inline constexpr const char kGeneration[] = "generation";
inline constexpr const char kVision[] = "vision";
inline constexpr const char kConfig[] = "config";
// model.tokens
inline constexpr const char kPadToken[] = "pad";
inline constexpr const char kBosToken[] = "bos";
inline constexpr const char kEosToken[] = "eos";
inline constexpr const char kImageToken[] = "image";
inline constexpr const char kBoiToken[] = "boi";
inline constexpr const char kEoiToken[] = "eoi";
// model.vision
inline constexpr const char kPatchSize[] = "patch_size";
inline constexpr const char kPoolingKernel[] = "pooling_kernel";
inline constexpr const char kSoftTokens[] = "soft_tokens";
// weights, and weights.tensors[i]
inline constexpr const char kBytes[] = "bytes";
inline constexpr const char kTensors[] = "tensors";
inline constexpr const char kName[] = "name"; // also of graph inputs, outputs
inline constexpr const char kOffset[] = "offset";
inline constexpr const char kShape[] = "shape"; // also of graph inputs, outputs
// kv_cache.pools.<name>
inline constexpr const char kPools[] = "pools";
inline constexpr const char kKind[] = "kind"; // also of a graph's cache input
inline constexpr const char kLayers[] = "layers";
inline constexpr const char kKvHeads[] = "kv_heads";
inline constexpr const char kHeadDim[] = "head_dim";
inline constexpr const char kWindow[] = "window";
// graphs.<name>
inline constexpr const char kSymbol[] = "symbol";
inline constexpr const char kInputs[] = "inputs";
inline constexpr const char kOutputs[] = "outputs";
/// kKind's value on a graph input that is a KV cache (its pool and table).
inline constexpr const char kKVCacheInput[] = "kv_cache";
} // namespace manifest

} // namespace dgc::runtime

#endif // DGC_RUNTIME_MODULEFORMAT_H
