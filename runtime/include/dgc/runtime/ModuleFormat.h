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

} // namespace dgc::runtime

#endif // DGC_RUNTIME_MODULEFORMAT_H
