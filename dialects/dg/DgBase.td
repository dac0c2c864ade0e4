//===- DgBase.td - The dg dialect and its enums ------------*- tablegen -*-===//
//
// The dg dialect describes block-diffusion language models as graphs of
// tensor-level primitives, weight references by checkpoint name, and paged
// KV-cache accesses.
//
//===----------------------------------------------------------------------===//

#ifndef DG_BASE_TD
#define DG_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Dg_Dialect : Dialect {
  let name = "dg";
  let cppNamespace = "::dgc::dg";
  let summary = "Tensor-level graphs of block-diffusion language models";
  let description = [{
    The `dg` dialect is the compiler's own description of a DiffusionGemma
    model. A module holds up to three graphs as `func.func` over tensors:
    `encoder` (causal prefill and canvas commit; writes the KV cache),
    `decoder` (one denoise step over a batch of canvases; reads the committed
    prefix, keeps the canvas K/V only as scratch) and `vision` (image patches to
    soft tokens).

    Graphs are written with primitive ops, the way a framework exporter writes
    them: matmuls, norms, RoPE, softmax, masks, top-k, gathers and elementwise
    arithmetic. Weights are referenced by their checkpoint tensor names with
    `dg.weight`; the KV cache is a handle of type `!dg.kv_cache` read and
    written by `dg.kv_cache_read` and `dg.kv_cache_write`.

    Conventions shared by all ops:
    * Elementwise binary ops broadcast like NumPy: shapes are aligned from the
      right and a dimension of size 1 stretches.
    * Reductions, norms and softmax accumulate in f32 whatever the element
      type, and round the result once to the result element type.
    * Integer tensors of token ids, positions and lengths are `i32`.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 0;
  // dg.contract and dg.model are checked where they sit (DgAttrs.cpp).
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
}

def Dg_LayerKind : I32EnumAttr<"LayerKind", "attention kind of a layer", [
    I32EnumAttrCase<"sliding", 0>,
    I32EnumAttrCase<"full", 1>
  ]> {
  let cppNamespace = "::dgc::dg";
  let genSpecializedAttr = 0;
}
def Dg_LayerKindAttr : EnumAttr<Dg_Dialect, Dg_LayerKind, "layer_kind">;

def Dg_RopeKind : I32EnumAttr<"RopeKind", "rotary position embedding kind", [
    I32EnumAttrCase<"default_", 0, "default">,
    I32EnumAttrCase<"proportional", 1>,
    I32EnumAttrCase<"two_d", 2>
  ]> {
  let cppNamespace = "::dgc::dg";
  let genSpecializedAttr = 0;
}
def Dg_RopeKindAttr : EnumAttr<Dg_Dialect, Dg_RopeKind, "rope_kind">;

def Dg_MaskKind : I32EnumAttr<"MaskKind", "attention mask kind", [
    I32EnumAttrCase<"causal", 0>,
    I32EnumAttrCase<"canvas", 1>,
    I32EnumAttrCase<"bidirectional", 2>
  ]> {
  let cppNamespace = "::dgc::dg";
  let genSpecializedAttr = 0;
}
def Dg_MaskKindAttr : EnumAttr<Dg_Dialect, Dg_MaskKind, "mask_kind">;

def Dg_ReduceKind : I32EnumAttr<"ReduceKind", "reduction kind", [
    I32EnumAttrCase<"sum", 0>,
    I32EnumAttrCase<"max", 1>,
    I32EnumAttrCase<"mean", 2>,
    I32EnumAttrCase<"logsumexp", 3>
  ]> {
  let cppNamespace = "::dgc::dg";
  let genSpecializedAttr = 0;
}
def Dg_ReduceKindAttr : EnumAttr<Dg_Dialect, Dg_ReduceKind, "reduce_kind"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // DG_BASE_TD
