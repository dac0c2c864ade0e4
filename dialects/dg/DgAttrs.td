//===- DgAttrs.td - Contracts and model facts --------------*- tablegen -*-===//
//
// Typed attributes that carry information between passes and to the
// manifest: the contracts a lowering leaves on the ops it writes for later
// passes to find (after bufferization too), and the model's facts on the
// module. Each is verified where it sits (DgAttrs.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef DG_ATTRS_TD
#define DG_ATTRS_TD

include "DgBase.td"

//===----------------------------------------------------------------------===//
// Contracts
//===----------------------------------------------------------------------===//

def Dg_ContractAttrInterface : AttrInterface<"ContractAttrInterface"> {
  let cppNamespace = "::dgc::dg";
  let description = [{
    A contract is what a lowering promises later passes about an op it
    wrote: what the op computes, in a form a pattern match on the op alone
    could not tell (an order of picks, a merge rule, the rows that share a
    weight). An op carries at most one, as its discardable attribute
    `dg.contract`; the dialect checks on verification that the op is of
    the kind the contract describes and agrees with its parameters.
    Passes that must keep such ops whole (dg-fuse-elementwise) skip any op
    with a contract.
  }];
  let methods = [
    InterfaceMethod<[{
        Checks that `op`, which carries this contract, is the kind of op
        the contract describes and agrees with its parameters; reports on
        `op` otherwise.
      }], "::llvm::LogicalResult", "verifyCarrier",
      (ins "::mlir::Operation *":$op)>
  ];
}

class Dg_ContractAttr<string name, string attrMnemonic>
    : AttrDef<Dg_Dialect, name,
              [DeclareAttrInterfaceMethods<Dg_ContractAttrInterface>]> {
  let mnemonic = attrMnemonic;
  let extraClassDeclaration = [{
    /// The contract of this kind that `op` carries, or null.
    static }] # cppClassName # [{ of(::mlir::Operation *op) {
      return op->getAttrOfType<}] # cppClassName # [{>(kContractAttrName);
    }
  }];
}

def Dg_BestOfRowsAttr : Dg_ContractAttr<"BestOfRows", "best_of_rows"> {
  let summary = "The best (value, index) pick of each row";
  let description = [{
    On a `linalg.generic` whose last loop is a reduction over a row and
    whose other loops are parallel, with two outputs: the value (a float)
    and the index (`i32`) of the row's best element in (value descending,
    index ascending) order, as convert-dg-to-linalg writes `dg.argmax`,
    `dg.categorical_sample` and each step of a top-k. The order is what
    lets a GPU lowering merge partial picks of a row
    (dg-gpu-block-reductions, dg-gpu-tensor-core-contractions).

    Example: `linalg.generic {...} ins(...) outs(%v, %i : ...) attrs = {dg.contract = #dg.best_of_rows}`
  }];
}

def Dg_RowStatisticsAttr : Dg_ContractAttr<"RowStatistics", "row_statistics"> {
  let summary = "One-pass softmax statistics of each row";
  let description = [{
    On a `linalg.generic` whose last loop is a reduction over a row and
    whose other loops are parallel, with four outputs: the max, the sum of
    exponentials, the sum of exp times shifted value (floats) and the
    argmax (`i32`) of each row, folded one element at a time
    (`passes/Utils/RowStatistics.h`). Partial states of a row merge by rescaling
    to the larger max, which a GPU lowering uses to fold a row across a
    thread block (dg-gpu-block-reductions) or in a GEMM's epilogue.
  }];
}

def Dg_ColumnGroupMaxAttr
    : Dg_ContractAttr<"ColumnGroupMax", "column_group_max"> {
  let summary = "The max of each group of `group` columns of a row";
  let description = [{
    On a `linalg.generic` with one input and one output whose last loop is
    a reduction and whose other loops are parallel: the input is a view
    that splits each row into groups of `group` columns (its last
    dimension), and the output keeps the max of each group. Its body,
    (element, max) -> max, is also how two partial maxima merge, so a GEMM
    whose tile spans one group computes the maxima in its kernel
    (dg-gpu-tensor-core-contractions). The sampler's candidate groups are
    written this way.

    Example: `#dg.column_group_max<group = 64>`
  }];
  let parameters = (ins AttrParameter<"int64_t", "columns per group">:$group);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Dg_GroupedByExpertAttr
    : Dg_ContractAttr<"GroupedByExpert", "grouped_by_expert"> {
  let summary = "A MoE projection of tiles of `group_rows` rows, one expert a tile";
  let description = [{
    On a `linalg.generic` with two inputs and one output:
    `out[m, i, n] = sum_k rows[m, i, k] * weight[max(tile_expert[m], 0), n, k]`
    in f32, where `rows` (the first input, rank 3) holds tiles of
    `group_rows` rows that all belong to the expert `tile_expert[m]` (the
    second input, -1 for an unused tile), and the weight is read inside the
    body. A GPU lowering turns it into a tensor-core GEMM that reads each
    tile's expert once (dg-gpu-tensor-core-contractions);
    convert-dg-to-linalg writes it for `dg.moe` (`moe-group-rows`).

    Example: `#dg.grouped_by_expert<group_rows = 16>`
  }];
  let parameters = (ins
    AttrParameter<"int64_t", "rows per tile, all of one expert">:$group_rows);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Dg_TopKLoopAttr : Dg_ContractAttr<"TopKLoop", "top_k_loop"> {
  let summary = "A loop of `k` best-of-rows passes: the top k of each row";
  let description = [{
    On the `scf.for` from 0 to `k` that convert-dg-to-linalg writes for
    `dg.top_k`: step j writes the best of each row among the elements after
    pick j - 1 (one `linalg.generic` with `#dg.best_of_rows`) into column j
    of the values and indices. Each target replaces the whole loop by its
    own selection (dg-host-top-k, dg-gpu-top-k).

    Example: `scf.for %j = %c0 to %c2 step %c1 ... {dg.contract = #dg.top_k_loop<k = 2>}`
  }];
  let parameters = (ins AttrParameter<"int64_t", "picks per row">:$k);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Model facts
//===----------------------------------------------------------------------===//

def Dg_TokensAttr : AttrDef<Dg_Dialect, "Tokens"> {
  let mnemonic = "tokens";
  let summary = "The model's special token ids";
  let description = [{
    `#dg.model`'s `tokens`, as the manifest's `model.tokens` passes them
    on: `pad`, `bos`, the `eos` ids (generation stops at any), and the
    image markers `boi`, `eoi` and `image` (the soft tokens' placeholder).
    Each may be left out (a module written by hand); the runtime needs the
    image markers when the module has a vision graph.

    Example: `#dg.tokens<pad = 0, bos = 2, eos = [1, 106]>`
  }];
  let parameters = (ins
    OptionalParameter<"std::optional<int64_t>", "padding">:$pad,
    OptionalParameter<"std::optional<int64_t>", "start of text">:$bos,
    OptionalParameter<"::mlir::DenseI64ArrayAttr", "end of text">:$eos,
    OptionalParameter<"std::optional<int64_t>", "start of image">:$boi,
    OptionalParameter<"std::optional<int64_t>", "end of image">:$eoi,
    OptionalParameter<"std::optional<int64_t>", "an image's soft token">:$image
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Dg_VisionAttr : AttrDef<Dg_Dialect, "Vision"> {
  let mnemonic = "vision";
  let summary = "How images become the vision graph's patches";
  let description = [{
    `#dg.model`'s `vision`, the manifest's `model.vision`: the runtime cuts
    an image into `patch_size`-pixel square patches, at most `soft_tokens`
    times `pooling_kernel`^2 of them, which the vision graph pools into at
    most `soft_tokens` soft tokens.

    Example: `#dg.vision<patch_size = 16, pooling_kernel = 3, soft_tokens = 280>`
  }];
  let parameters = (ins
    AttrParameter<"int64_t", "pixels per patch side">:$patch_size,
    AttrParameter<"int64_t", "patches per soft token side">:$pooling_kernel,
    AttrParameter<"int64_t", "soft tokens per image, at most">:$soft_tokens
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Dg_ModelAttr : AttrDef<Dg_Dialect, "Model"> {
  let mnemonic = "model";
  let summary = "What the runtime needs to know of the model beyond its graphs";
  let description = [{
    The module attribute `dg.model`: the facts `dgc import` takes from the
    configs and the manifest (`model` in `manifest.json`) passes on to the
    runtime, one field per manifest key. `name` is the model family
    (`diffusion_gemma`), `dtype` the element type the graphs compute in,
    `canvas_length`, `vocab_size` and `hidden_size` the shapes the runtime
    checks its inputs against. The rest may be left out (a module written
    by hand): `max_positions` (0 when unknown), `tokens` (`#dg.tokens`,
    printed stripped: `tokens = <pad = 0, eos = [1]>`), `generation` (the
    defaults of `generation_config.json` by their module names, as the
    runtime's table of options reads them back), `vision` (`#dg.vision`,
    how images become patches) and `source_config` (the `config.json` values
    read, by JSON path, each as JSON text; `model.config` in the manifest).

    Example: `#dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16>`
  }];
  let parameters = (ins
    StringRefParameter<"the model family">:$name,
    AttrParameter<"::mlir::Type", "the graphs' element type">:$dtype,
    AttrParameter<"int64_t", "tokens per canvas">:$canvas_length,
    AttrParameter<"int64_t", "tokens in the vocabulary">:$vocab_size,
    AttrParameter<"int64_t", "width of the text model">:$hidden_size,
    DefaultValuedParameter<"int64_t", "0",
                           "max_position_embeddings, 0 if unknown">:$max_positions,
    OptionalParameter<"TokensAttr", "special token ids">:$tokens,
    OptionalParameter<"::mlir::DictionaryAttr",
                      "generation_config.json defaults">:$generation,
    OptionalParameter<"VisionAttr",
                      "patch size, pooling kernel, soft tokens">:$vision,
    OptionalParameter<"::mlir::DictionaryAttr",
                      "config.json values read, as JSON text">:$source_config
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The facts of `module`, or null.
    static ModelAttr of(::mlir::Operation *module) {
      return module->getAttrOfType<ModelAttr>(kModelAttrName);
    }
  }];
}


//===----------------------------------------------------------------------===//
// The runtime ABI
//===----------------------------------------------------------------------===//

def Dg_WeightSlotAttr : AttrDef<Dg_Dialect, "WeightSlot"> {
  let mnemonic = "weight_slot";
  let summary = "Where one weight lives in the weight arena";
  let description = [{
    An entry of the module attribute `dg.weight_table`, which
    convert-dg-to-runtime-abi writes and the manifest's `weights.tensors`
    copies: the checkpoint tensor `name`, its byte `offset` in the arena
    (a multiple of the module format's weight alignment), its `shape` and
    element `type`. The module attribute `dg.weight_bytes` is the arena's
    size.

    Example: `#dg.weight_slot<name = "model.norm.weight", offset = 64, shape = [16], type = f32>`
  }];
  let parameters = (ins
    StringRefParameter<"the checkpoint tensor's name">:$name,
    AttrParameter<"int64_t", "bytes from the arena's start">:$offset,
    ArrayRefParameter<"int64_t", "the tensor's shape">:$shape,
    AttrParameter<"::mlir::Type", "the tensor's element type">:$type
  );
  // The shape in brackets, `[]` for a scalar.
  let assemblyFormat = [{
    `<` `name` `=` $name `,` `offset` `=` $offset `,`
    `shape` `=` custom<Shape>($shape) `,` `type` `=` $type `>`
  }];
  let genVerifyDecl = 1;
}

#endif // DG_ATTRS_TD
