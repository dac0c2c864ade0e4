//===- Patterns.h - The dg-to-linalg pattern families ---------------------===//

#ifndef DGC_PASSES_DGTOLINALG_PATTERNS_H
#define DGC_PASSES_DGTOLINALG_PATTERNS_H

#include "dg/DgDialect.h"

#include "mlir/IR/PatternMatch.h"

namespace dgc::lowering {

void populateElementwisePatterns(mlir::RewritePatternSet &patterns);
void populateContractionPatterns(mlir::RewritePatternSet &patterns);
void populateNormalizationPatterns(mlir::RewritePatternSet &patterns);
void populateSelectionPatterns(mlir::RewritePatternSet &patterns);
void populatePositionPatterns(mlir::RewritePatternSet &patterns);
void populateShapePatterns(mlir::RewritePatternSet &patterns);
/// `groupRows`: the rows of a tile of the grouped expert GEMMs (1 on the
/// host, where padding only costs; a tensor-core tile height on GPUs).
void populateMoEPatterns(mlir::RewritePatternSet &patterns, int64_t groupRows);
/// dg.sample with rounded logits takes its top-k among k + `candidates`
/// rounded logits (0: over the f32 logits).
void populateSamplingPatterns(mlir::RewritePatternSet &patterns,
                              int64_t candidates);
void populateSoftEmbeddingPatterns(mlir::RewritePatternSet &patterns);
/// `flashAttention`: leave bf16 `dg.masked_attention` whole (see
/// isLeftWhole) for a target that runs it as one kernel.
void populateAttentionPatterns(mlir::RewritePatternSet &patterns,
                               bool flashAttention);
bool isLeftWhole(dg::MaskedAttentionOp op, bool flashAttention);

} // namespace dgc::lowering

#endif // DGC_PASSES_DGTOLINALG_PATTERNS_H
