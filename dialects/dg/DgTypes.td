//===- DgTypes.td - Types of the dg dialect ----------------*- tablegen -*-===//

#ifndef DG_TYPES_TD
#define DG_TYPES_TD

include "DgBase.td"

class Dg_Type<string name, string typeMnemonic> : TypeDef<Dg_Dialect, name> {
  let mnemonic = typeMnemonic;
}

def Dg_KVCacheType : Dg_Type<"KVCache", "kv_cache"> {
  let summary = "A paged KV cache pool shared by the layers of one attention kind";
  let description = [{
    A handle to one pool of the paged KV cache: all layers of one attention
    kind (`sliding` or `full`) share a pool because they share the K/V
    geometry. Every layer of the pool stores both K and V as
    `[kv_heads, head_dim]` rows of `elementType`, one row per token position.

    The handle stands for the page tables of a batch of requests (one per row
    of the batch dimension of the ops that use it). Each request has a
    *committed length* `L`, owned by the runtime: positions `[0, L)` hold the
    committed K/V (prompt and committed canvases). Positions from `L` on are
    *canvas scratch*: a denoise step writes its canvas K/V there and the next
    step overwrites them; only a commit (an encoder pass) makes them part of
    the committed prefix. A `window` greater than zero marks a sliding pool:
    keys further than `window - 1` positions behind the newest token are never
    read, so their pages may be recycled.

    Example: `!dg.kv_cache<sliding, layers = 25, kv_heads = 8, head_dim = 256, window = 1024, bf16>`
  }];
  let parameters = (ins
    "::dgc::dg::LayerKind":$kind,
    "int64_t":$numLayers,
    "int64_t":$numKvHeads,
    "int64_t":$headDim,
    "int64_t":$window,
    "::mlir::Type":$elementType
  );
  let assemblyFormat = [{
    `<` $kind `,` `layers` `=` $numLayers `,` `kv_heads` `=` $numKvHeads `,`
    `head_dim` `=` $headDim `,` `window` `=` $window `,` $elementType `>`
  }];
  let genVerifyDecl = 1;
}

#endif // DG_TYPES_TD
