//===- Patterns.h - The dg-to-linalg pattern families ---------------------===//

#ifndef DGC_PASSES_DGTOLINALG_PATTERNS_H
#define DGC_PASSES_DGTOLINALG_PATTERNS_H

#include "dg/DgDialect.h"

#include "mlir/IR/PatternMatch.h"

namespace dgc::lowering {

/// convert-dg-to-linalg's options, as every family sees them.
struct LoweringOptions {
  /// The rows of a tile of the grouped expert GEMMs (the host's register
  /// tile height; a tensor-core tile height on GPUs).
  int64_t moeGroupRows = 1;
  /// dg.sample with rounded logits takes its top-k among k + this many
  /// rounded logits (0: over the f32 logits).
  int64_t sampleCandidates = 0;
  /// Leave bf16 `dg.masked_attention` whole (see isLeftWhole) for a target
  /// that runs it as one kernel.
  bool flashAttention = false;
};

// populateElementwisePatterns, populateContractionPatterns, ...: one per
// family of Families.def.
#define DG_LOWERING_FAMILY(Family)                                             \
  void populate##Family##Patterns(mlir::RewritePatternSet &patterns,           \
                                  const LoweringOptions &options);
#include "passes/DgToLinalg/Families.def"

bool isLeftWhole(dg::MaskedAttentionOp op, bool flashAttention);

} // namespace dgc::lowering

#endif // DGC_PASSES_DGTOLINALG_PATTERNS_H
