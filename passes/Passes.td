//===- Passes.td - dgc's passes ----------------------------*- tablegen -*-===//

#ifndef DGC_PASSES_TD
#define DGC_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertDgToLinalg : Pass<"convert-dg-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower dg's compute ops to linalg, tensor, arith and math";
  let description = [{
    Rewrites every compute op of the dg dialect into upstream ops on tensors:
    `linalg.generic` for elementwise work, contractions and reductions (all
    accumulating in f32, as the dg ops specify), `tensor` ops for reshapes
    and slices, and `scf.for` over per-rank `linalg.generic` reductions for
    top-k. The result is the host target's starting point: it bufferizes and
    lowers to loops with upstream passes.

    `dg.weight` and the KV-cache ops are left alone: they are the runtime
    interface, lowered by their own pass.

    Broadcasting is decided statically: a dimension stretches only when it
    is a static 1 and the result's is not.

    `dg.moe` runs its experts as grouped GEMMs: the (token, choice) slots
    are sorted by expert into a padded layout where every tile of
    `moe-group-rows` rows belongs to one expert (counts, offsets and the
    permutation are `linalg.generic` reductions), each tile is multiplied by
    its expert's weights (a generic with the contract
    `#dg.grouped_by_expert`), and the
    weighted combine gathers each token's k rows.

    `dg.attention` becomes its norms, RoPE, cache access and mask around a
    `dg.masked_attention`, which is expanded in turn into GQA, the two
    products and the masked softmax. With `flash-attention`, bf16
    `dg.masked_attention` ops stay whole: they bufferize as themselves and
    `dg-gpu-flash-attention` turns each into one kernel.

    `dg.sample` with rounded (bf16) logits keeps no f32 logits beyond the
    head: its statistics read the raw product, and its top-k is taken among
    the `k + sample-candidates` largest rounded logits, whose f32 values are
    recomputed. That is the exact top-k unless more than
    `sample-candidates` rounded logits tie with the k-th; 0 selects over
    the f32 logits instead.
  }];
  let options = [
    Option<"moeGroupRows", "moe-group-rows", "int64_t", /*default=*/"1",
           "Rows per expert tile of the grouped MoE GEMMs (the CUDA target "
           "uses its tensor-core tile height)">,
    Option<"flashAttention", "flash-attention", "bool", /*default=*/"false",
           "Leave bf16 dg.masked_attention whole for a flash kernel (the "
           "CUDA target)">,
    Option<"sampleCandidates", "sample-candidates", "int64_t",
           /*default=*/"64",
           "dg.sample with rounded logits: rounded candidates beyond top_k "
           "whose f32 values are recomputed (0: top-k over f32 logits)">
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect"
  ];
}

def DgFuseAttention : Pass<"dg-fuse-attention"> {
  let summary = "Fuse the projection epilogue, cache access and attention";
  let description = [{
    Recognises a layer's attention from its raw q/k/v projections: the
    q/k/v norms and RoPE, the K/V cache write and read, GQA, the scaled,
    masked softmax and the product with V, and replaces them by one
    `dg.attention` carrying its mask kind (causal, causal with window,
    canvas with the windowed prefix, bidirectional) and its paged-cache
    operands. Near-misses
    stay: a non-constant scale, a softmax over another axis, a mask over other
    positions, a read of another layer or of another length, an intermediate
    used elsewhere. An attention that reads no cache (the vision tower's)
    fuses as a bidirectional dg.attention over its valid key positions.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark with the counts of fused and left attentions">
  ];
  let statistics = [
    Statistic<"numFused", "fused", "attentions fused into dg.attention">,
    Statistic<"numLeft", "left", "attention softmaxes left unfused">
  ];
}

def DgFuseMoE : Pass<"dg-fuse-moe"> {
  let summary = "Fuse router, experts and combine into dg.moe";
  let description = [{
    Recognises a layer's mixture-of-experts block written with primitives
    (a no-scale norm, the router scale vector and hidden^-0.5, softmax over
    the experts, top-k, renormalisation, per-expert scale, every expert's
    gated-gelu MLP, and the weighted sum) and replaces it by one `dg.moe`,
    whose semantics only evaluate the selected experts. Near-misses are left
    alone: another scale, a softmax over another axis, weights that are not
    renormalised, or an intermediate used outside the block.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark with the counts of fused and left blocks (release "
           "builds of LLVM compile -mlir-pass-statistics out)">
  ];
  let statistics = [
    Statistic<"numFused", "fused", "MoE blocks fused into dg.moe">,
    Statistic<"numLeft", "left", "routing matrices (dg.scatter) left unfused">
  ];
}

def DgFuseSampling : Pass<"dg-fuse-sampling"> {
  let summary = "Fuse the LM head and the sampling statistics into dg.sample";
  let description = [{
    Recognises the decoder's head: the f32 LM head against the tied
    embedding, the softcap, the temperature, and the statistics of
    softmax(x) (argmax, entropy, top-k), and replaces them by one
    `dg.sample`, whose contract needs no [positions x vocabulary] f32
    temporary beyond its results. Near-misses are left alone: a softmax over
    another axis, a cap on one side only, an intermediate used elsewhere.
    It also fuses the self-conditioning input softmax(x) @ E * scale into
    `dg.soft_embedding`.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark with the counts of fused and left heads">
  ];
  let statistics = [
    Statistic<"numFused", "fused", "sampling heads fused into dg.sample">,
    Statistic<"numLeft", "left", "sampling heads (dg.argmax) left unfused">
  ];
}

def ConvertDgToRuntimeAbi
    : Pass<"convert-dg-to-runtime-abi", "mlir::ModuleOp"> {
  let summary = "Lower weight references and KV-cache ops to the runtime ABI";
  let description = [{
    Makes each graph callable by the runtime:

    * A leading `memref<?xi8>` argument holds every weight, packed: each
      `dg.weight` becomes a `memref.view` at the weight's byte offset in that
      arena (64-byte aligned, in order of first use) and the module records
      the layout in `dg.weight_table`, an array of `#dg.weight_slot` (name,
      offset, shape, element type), and the arena's size in
      `dg.weight_bytes`, from which the manifest tells the runtime how to
      fill the arena. Each cache's type is recorded by name in
      `dg.kv_cache_pools`. These attributes, and the argument and result
      markers below, are verified by the dialect wherever they sit.
    * Each `!dg.kv_cache` argument becomes two buffers the runtime fills
      before the call: the pool, `memref<?xHxDxT>` (every row of every page,
      marked `dg.kv_cache`), and the table, `memref<?x?xi64>` (marked
      `dg.kv_cache_table`): per request the committed length, the page size,
      an error cell and the pool row of each position. `dg.kv_cache_write`
      and `dg.kv_cache_read` become `scf.parallel` loops that scatter and
      gather rows through that table, so the same code runs on the host and
      as GPU kernels, with no call into the runtime. A read whose keys and
      values only `dg.masked_attention` ops read (those
      `convert-dg-to-linalg` left whole for the flash kernel) gathers
      nothing: its loop writes each row's pool row numbers, and the
      attention becomes the paged form that reads the pool through them.
      Reads of one cache up to the same lengths share the first one's
      positions (the layer moves only the pool rows), so that a later
      `cse` merges the masks built from them.
      A write the table
      rejects (outside the reservation, in a recycled page, scratch below
      the committed length) is skipped and its position left in the error
      cell for the runtime to report.
    * Graphs get `llvm.emit_c_interface`, so the runtime calls
      `_mlir_ciface_<graph>` with memref descriptors.

    Runs on tensors, before bufferization.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::func::FuncDialect", "mlir::LLVM::LLVMDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect"
  ];
}

def DgGpuManagedMemory : Pass<"dg-gpu-managed-memory", "mlir::ModuleOp"> {
  let summary = "Put the graphs' buffers where both host and GPU reach them";
  let description = [{
    The CUDA target's first memory plan: every data buffer a graph allocates
    becomes `gpu.alloc host_shared` (CUDA managed memory), so that kernels and
    the host-side code between them (copies, loops not mapped to the GPU)
    see the same bytes. Constant globals read by the graph are
    copied into such buffers at the point of use. Shape buffers (`index`
    elements), which only host-side reshapes read, stay host memory.

    Runs on buffers, before parallel loops are mapped to the GPU.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect",
                           "mlir::memref::MemRefDialect"];
}

def DgGpuDeviceBuffers : Pass<"dg-gpu-device-buffers", "mlir::ModuleOp"> {
  let summary = "Keep the buffers only kernels touch in device memory";
  let description = [{
    Once kernels are outlined, a `gpu.alloc host_shared` whose every use,
    through views cut from it, is a `gpu.launch_func` operand, a
    `gpu.dealloc` or a read of its shape (`memref.dim`,
    `memref.extract_strided_metadata`) or the graph's return (the runtime
    copies results out after the closing wait) is never touched by the
    host: it becomes plain device memory, allocated asynchronously (as
    gpu-to-llvm requires; dg-gpu-async-launches, which runs next, queues it
    with the kernels). A graph
    argument used only so, and a result in device memory, is marked
    `dg.device_only`; the manifest passes the marks on, so that the runtime
    may keep them in device memory. Anything else the host does with a
    buffer (loads, stores, copies, calls) keeps it managed.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def DgGpuAlignWorkgroupMemory
    : Pass<"dg-gpu-align-workgroup-memory", "mlir::gpu::GPUModuleOp"> {
  let summary = "Align every kernel's shared-memory tiles to 16 bytes";
  let description = [{
    The tensor-core and flash-attention kernels stage operands into their
    workgroup (shared-memory) attributions with 16-byte vector stores, which
    need a 16-byte aligned address; an attribution's own alignment is only
    its element type's (2 bytes for bf16), so it held only as long as the
    assembler happened to place each array at a multiple of 16. This sets
    `llvm.align = 16` on every workgroup attribution of every `gpu.func`
    that has no larger alignment, which the lowering to NVVM gives the
    array's global. Runs after gpu-kernel-outlining.
  }];
}

def DgGpuNameKernels : Pass<"dg-gpu-name-kernels", "mlir::ModuleOp"> {
  let summary = "Kernels named after the part of the model they compute";
  let description = [{
    Renames each outlined `gpu.module` and its one kernel after the name
    its first `gpu.launch_func` carries in its location (the innermost
    `NameLoc`; the graph builder names its ops after the model's parts, and
    `GraphEmitter::linear` after its weight: `self_attn.q_proj` becomes
    `self_attn_q_proj`, the next kernel of that part `self_attn_q_proj_1`),
    and points every launch of it at the new name. Profilers then name the
    part each kernel computes, where every kernel was
    `<function>_kernel`. Kernels whose launches carry no name keep theirs;
    `dg-merge-identical-functions` keeps kernels of different parts apart.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def DgGpuTileParallelLoops
    : Pass<"dg-gpu-tile-parallel-loops", "mlir::func::FuncOp"> {
  let summary = "Tile outermost parallel loops into GPU blocks of threads";
  let description = [{
    Tiles each outermost `scf.parallel` so that its innermost dimensions
    form a block of at most `threads` threads (the last dimension first, the
    way memory is contiguous) and the rest becomes the grid, with bound
    checks rather than min/max bounds so that `gpu-map-parallel-loops` and
    `convert-parallel-loops-to-gpu` can map every loop, including those
    inside sequential loops (a launch per iteration).
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block at most">
  ];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect"];
}

def DgGpuFlashAttention
    : Pass<"dg-gpu-flash-attention", "mlir::func::FuncOp"> {
  let summary = "dg.masked_attention on buffers as one flash-attention "
                "kernel on tensor cores";
  let description = [{
    Replaces each bf16 `dg.masked_attention` on buffers by a `gpu.launch`
    that never materialises the scores: a block of 4 warps owns 64 query
    rows of one head (16 per warp) and 128 columns of the head dimension.
    It keeps its queries in shared memory (head dimensions up to 256; larger
    ones restage them with the keys); per tile of 32 keys it stages the
    keys 64 dimensions at a time and multiplies them with `nvvm.mma.sync`
    m16n8k16 (bf16 in, f32 accumulate; fragments loaded with
    `nvgpu.ldmatrix`, transposing for the values); rounds, scales and masks the
    scores as the op specifies; keeps each row's running maximum and sum
    of exponentials (a quad of lanes shares a row, combined with
    shuffles), rescales its output accumulators, and multiplies the
    probabilities, rounded to bf16 and repacked from the accumulators as
    the next product's A fragments, by the value tile staged in shared
    memory. Query head `h` reads K/V head `h / (heads / kv_heads)`, so GQA
    needs no copies, and the keys and values are read where they lie,
    token-major: in the paged form, in the KV cache's pages, through the
    op's row numbers (a negative one reads zeros). A key tile that no
    query of the block sees (outside a sliding window, past the causal
    diagonal) is skipped after a block-wide vote on the mask. Fresh buffers, the KV cache's pool
    (an argument marked `dg.kv_cache`) and weights at 16-byte offsets,
    whose rows are a multiple of 8 elements, are copied to shared memory
    with 16-byte
    `nvgpu.device_async_copy` (cp.async), others element by element.
    Bounds are checked: any lengths and head dimensions work.

    Runs on buffers, before parallel loops are mapped to the GPU.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::LLVM::LLVMDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::nvgpu::NVGPUDialect",
                           "mlir::vector::VectorDialect"];
}

def DgGpuTensorCoreContractions
    : Pass<"dg-gpu-tensor-core-contractions", "mlir::func::FuncOp"> {
  let summary = "bf16 contractions and grouped expert GEMMs as tensor-core "
                "kernels (mma.sync)";
  let description = [{
    Replaces each `linalg.generic` on buffers that is a contraction of two
    bf16 operands into an f32 accumulator (one N and one K loop, up to three
    M loops and two batch loops, any layouts and broadcasts the indexing
    maps express) by a `gpu.launch`: blocks of 128 threads own a 64 x 32
    tile of the result (128 x 64 for outputs of `wide-columns` columns or
    more, such as the LM head), stage 32 of K of both operands in shared
    memory,
    and each warp multiplies its 16 rows with `nvvm.mma.sync` m16n8k16
    (bf16 in, f32 accumulate; fragments loaded with `nvgpu.ldmatrix`),
    adding to what the output held. Bounds are
    checked, so any sizes work; several M loops (a linear layer's batch and
    token loops) act as one row index. The grid's x walks the row tiles
    and y the column tiles, so the blocks that share a tile of weights
    start together and read it once from HBM.

    The grouped expert projections convert-dg-to-linalg writes with the
    contract `#dg.grouped_by_expert` (tiles of a multiple of 16 rows)
    become one block per 16 rows with 4 warps along N (16 x 128 tiles): the
    block reads its tile's expert, does nothing for unused tiles (-1), and
    multiplies its rows by that expert's weights.

    B operands that are weights viewed from the arena at offsets that are
    multiples of 16 bytes, with K a multiple of 8, stored k fastest, are
    copied to shared memory with `nvgpu.device_async_copy` (cp.async, 16
    bytes, zero-filled past the bounds) `stages - 1` tiles of K ahead of the
    one the warps multiply, through a ring of `stages` shared buffers (3 by
    default; fewer where they would pass 48 KB); so are A
    operands whose rows run along K in fresh allocations or the arena.
    Other operands are staged in step with the multiplication.

    Runs on buffers, before parallel loops are mapped to the GPU.
  }];
  let options = [
    Option<"wideColumns", "wide-columns", "int64_t", /*default=*/"16384",
           "Outputs of at least this many columns (a static size) take the "
           "128 x 64 tile; smaller ones the 64 x 32 tile">,
    Option<"stages", "stages", "int64_t", /*default=*/"3",
           "Shared buffers of the cp.async rings (2 to 8), fewer where they "
           "would pass 48 KB of static shared memory">,
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::nvgpu::NVGPUDialect",
                           "mlir::LLVM::LLVMDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::vector::VectorDialect"];
}

def DgGpuBlockReductions
    : Pass<"dg-gpu-block-reductions", "mlir::func::FuncOp"> {
  let summary = "Reductions over a row as one thread block per row";
  let description = [{
    Replaces each `linalg.generic` on buffers that reduces its last loop
    into an f32 output with `out = out + f(inputs)` or
    `out = max(out, f(inputs))` (norms' sums of squares, softmax maxima and
    sums, entropy terms) by a `gpu.launch` with one block per output
    element: the block's threads stride over the row, each folding its
    elements, then a tree in shared memory combines the threads, and the
    result is combined with what the output held. Argmax and each top-k step
    (`#dg.best_of_rows` from convert-dg-to-linalg) reduce the same way,
    their (value, index) pairs combined in (value descending, index
    ascending) order. An output that a constant fill (or a copy of a
    filled buffer) sets just before is not read: thread 0 starts from the
    constant and the fill or copy is erased. Without it a row is one
    thread's sequential loop.
    A plain sum or max over a static row of at most `short-rows` elements
    (the MoE's sum over a token's eight experts) stays that loop: a block
    per output element would leave most of a warp idle for a few values
    (measured on an H200: 13.1 ms of an 82.5 ms 26B-A4B step went to the
    experts' sum as one 32-thread block per output element).
    Contractions are left to the tensor-core and general kernels.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block (a power of two) at most">,
    Option<"shortRows", "short-rows", "int64_t", /*default=*/"32",
           "Plain reductions of static rows this short or shorter stay one "
           "thread's loop">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def DgGpuTopK : Pass<"dg-gpu-top-k", "mlir::func::FuncOp"> {
  let summary = "Top-k of each row as one radix-select kernel";
  let description = [{
    Replaces the loop convert-dg-to-linalg writes for a top-k (k passes of
    a best-of-rows over the whole row, with the contract `#dg.top_k_loop`)
    by one `gpu.launch` with a block per row. Each element becomes a 64-bit key,
    its value's order-preserving bits above the complement of its index, so
    keys are distinct and their order is (value descending, index
    ascending), the order the op specifies for ties. A radix select over
    the keys, eight bits per pass from the top with a shared-memory
    histogram, finds the k-th largest key, stopping as soon as the bin it
    lands in holds exactly the keys still needed (after four passes unless
    values tie); one more pass collects the k selected keys into shared
    memory, and each of them finds its output position by counting the
    larger ones. The row is read a few times instead of k times. -0 counts
    as +0, and NaN is below every number, as in the loop it replaces.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block (a power of two) at most">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect"];
}

def DgFoldReductionInits
    : Pass<"dg-fold-reduction-inits", "mlir::func::FuncOp"> {
  let summary = "A reduction's constant start stored in its loops";
  let description = [{
    Lowers each `linalg.generic` on buffers whose loops are parallel ones
    and then reductions, and one of whose outputs holds a constant when it
    starts (the last op to touch it a `linalg.fill` with a constant, or a
    copy from a buffer in that state), to an `scf.parallel` over its
    parallel loops around `scf.for` loops over its reductions, each
    parallel iteration first storing the constants to its output elements.
    The fill or copy is erased (and a fill that only fed such copies): no
    pass over the output before the reduction, and on the GPU no kernel.
    Other generics are left to convert-linalg-to-loops or
    convert-linalg-to-parallel-loops.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def DgRegisterReductions
    : Pass<"dg-register-reductions", "mlir::func::FuncOp"> {
  let summary = "Reductions whose outputs stay in registers over their loops";
  let description = [{
    Rewrites each `linalg.generic` on buffers whose loops are parallel ones
    and then reductions, and whose outputs are indexed by the parallel loops
    alone, into an `scf.parallel` over the parallel loops around `scf.for`
    loops over the reductions whose `iter_args` carry the outputs: each
    output is loaded once before them, or starts from the constant it holds
    (the last op to touch it a `linalg.fill` with a constant, or a copy from
    a buffer in that state; that op goes), and is stored once after them,
    where `convert-linalg-to-loops` and `convert-linalg-to-parallel-loops`
    would load and store it on every iteration (LLVM cannot keep it in a
    register, not knowing the buffers apart). The body is cloned as it is
    (`linalg.index` becomes the loop's value) and the loops keep linalg's
    order, so no result changes. Generics whose outputs are also inputs,
    whose maps are not loops or zeros, or whose body has ops with regions
    are left alone.
  }];
  let options = [
    Option<"parallelOnly", "parallel-only", "bool", /*default=*/"false",
           "Only generics with a parallel loop (on the cuda target, loops "
           "outside an scf.parallel would run on the host)">
  ];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def DgMergeIdenticalFunctions
    : Pass<"dg-merge-identical-functions", "mlir::ModuleOp"> {
  let summary = "One copy of each outlined function or kernel module";
  let description = [{
    Merges the private functions with a body, and the `gpu.module`s, that
    are identical but for their names (and, in a `gpu.module`, its
    `gpu.func`s' names): the first in the module stays, every reference to
    another (a call, a `gpu.launch_func`'s kernel) points at it instead, and
    the others are erased. Outlining gives one function per loop nest or
    kernel, and a model's layers repeat them: compiling each copy through
    LLVM again costs time and gives the same code. Public functions, the
    module's entry points, stay as they are.
  }];
  let statistics = [
    Statistic<"numMerged", "merged", "duplicate functions and modules erased">
  ];
}

def DgHostTopK : Pass<"dg-host-top-k", "mlir::func::FuncOp"> {
  let summary = "Top-k of each row in one pass, on the host";
  let description = [{
    Replaces the loop convert-dg-to-linalg writes for a top-k of f32 rows
    (k passes of a best-of-rows over the whole row, `#dg.top_k_loop`) by an
    `scf.parallel` over the rows, each reading its row once in index order
    and keeping the best k so far, sorted, in the outputs: the first k by
    insertion, then each element that beats the k-th (held in a register)
    takes its place and moves up past the kept ones it beats. An element
    never beats an equal one already kept, so ties keep the lower index
    first, the order the op specifies; NaN is below every number, as in the
    loop it replaces. bf16 rows are left as they are.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def DgHostPolynomialMath
    : Pass<"dg-host-polynomial-math", "mlir::func::FuncOp"> {
  let summary = "f32 tanh, exp and log as MLIR's polynomial approximations";
  let description = [{
    Rewrites the f32 (scalar or vector) `math` ops named by `ops` (default
    `tanh`, `exp` and `log`; any that
    `populateMathPolynomialApproximationPatterns` approximates) into MLIR's
    polynomial approximations, accurate to a few ulp: tanh a rational
    function of x clamped to +-7.99 (x itself below 0.0004); exp by
    reduction to [-ln 2 / 2, ln 2 / 2], exp(-inf) = 0 and results below
    2^-126 flushed to 0; log by reduction of the mantissa, log(0) = -inf.
    Their fused multiply-adds become contractable `arith.mulf` and
    `arith.addf` (no libm `fmaf` on a CPU without FMA). Every selected op
    is rewritten, in vector code and scalar loops alike, so that a value is
    the same number wherever it is computed. The gelus and softmax
    exponentials then need no libm call and run in vector lanes
    (dg-host-vectorize-rows). Other types stay.
  }];
  let options = [
    ListOption<"ops", "ops", "std::string",
               "math ops to approximate, without the `math.` (default: "
               "tanh, exp, log)">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::math::MathDialect",
                           "mlir::vector::VectorDialect"];
}

def DgHostVectorizeRows : Pass<"dg-host-vectorize-rows", "mlir::func::FuncOp"> {
  let summary = "Elementwise generics and row reductions in 8 vector lanes";
  let description = [{
    Rewrites each `linalg.generic` on f32 or i32 buffers whose loops are
    parallel but for the innermost, which indexes only the last, unit-stride
    dimension of the operands that use it, into an `scf.parallel` over the
    outer loops around an `scf.for` over the innermost in steps of 8: each
    operand a `vector.load` (or one element, broadcast, if the innermost
    loop does not index it), the body's elementwise arith and math ops on
    `vector<8x..>`, the results stored with `vector.store`; then a scalar
    loop over the last elements. The innermost loop may be a reduction into
    one output that combines by `arith.maximumf`, `arith.minimumf` or
    `arith.addf`: a vector accumulator (a sum's starting at zero), the last
    elements in one masked step, folded by `vector.reduction` (a sum's in
    lane order after the output's value), the output stored once. A sum's
    element j always falls in lane j mod 8, so padding a row with elements
    that add zero does not change its sum. Bodies with other ops
    (`linalg.index`, loads, index or 64-bit values) are left alone.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::vector::VectorDialect"];
}

def DgHostVectorContractions
    : Pass<"dg-host-vector-contractions", "mlir::func::FuncOp"> {
  let summary = "f32 contractions on buffers as register tiles of vector FMAs";
  let description = [{
    Rewrites each `linalg.generic` on f32 buffers that computes
    `C[.., m, n] += A[.., m, .., k] * B[.., n, k]` (or `B[.., k, n]`), with
    one reduction loop, C indexed by every parallel loop with m and n last,
    and unit inner strides, into an `scf.parallel` over its other parallel
    loops and panels of columns, around `scf.for` loops over register tiles
    of `vector.fma`:

    - B[n, k] (k contiguous; the depth a static multiple of 8): 2 x 4 tiles
      of C (4 x 4 with 32 vector registers), each element an accumulator
      of 8 k-lanes, folded to 4 sums per row by shuffles at the end. The
      sum of each element of C is reassociated by lanes.
    - B[k, n] (n contiguous): 4 x 16 tiles of C (8 x 16 with 32
      registers), vectors of 8 columns, k in order, in blocks of 256 k so
      that B's panel stays in the L1 cache across the rows.

    The grouped expert GEMM convert-dg-to-linalg writes for `dg.moe`
    (`C[t, m, n] += A[t, m, k] * W[max(e[t], 0), n, k]`, W read in the
    body, the expert e an i32 input of the tile t) takes the first form,
    each tile's expert read once. Rows left over get a tile one row high;
    columns left over (a dynamic or uneven width) get panels one column
    wide that sum in the wide panels' order. C's constant start (a fill,
    or a copy of a filled buffer) is folded into the tiles. Other generics
    are left alone.
  }];
  let options = [
    Option<"vectorRegisters", "vector-registers", "int64_t", /*default=*/"16",
           "Vector registers of the CPU, which set the tiles' heights: 16 "
           "(AVX2) or 32 (AVX-512, whose extra registers the 8-lane tiles "
           "use)">
  ];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::vector::VectorDialect"];
}

def DgGpuModulesToBinaries
    : Pass<"dg-gpu-modules-to-binaries", "mlir::ModuleOp"> {
  let summary = "Each gpu.module to PTX in a gpu.binary, on every core";
  let description = [{
    Does what `gpu-module-to-binary{format=isa}` does (each `gpu.module`
    serialised by its target attributes, here to PTX, and replaced by a
    `gpu.binary` of the same name holding the objects), but serialises the
    modules on the context's threads: a model's kernels are hundreds to
    thousands of modules, each through LLVM on its own. The binaries are
    created in the modules' order, and the PTX is the same.
  }];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"\"",
           "CUDA toolkit whose libdevice the kernels link">,
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def DgGpuDeviceCopies : Pass<"dg-gpu-device-copies", "mlir::func::FuncOp"> {
  let summary = "Copies between GPU buffers as linalg.copy, for a kernel";
  let description = [{
    Rewrites each `memref.copy` outside kernels whose source and target are
    views of `gpu.alloc` buffers or of the function's arguments into
    `linalg.copy`, which the GPU passes map to a kernel. On the host such a
    copy would wait for every queued kernel and pull managed pages to host
    memory. Copies from host memory (constant globals) stay.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def DgGpuAsyncLaunches : Pass<"dg-gpu-async-launches", "mlir::func::FuncOp"> {
  let summary = "Queue kernels on one stream; wait only where the host must";
  let description = [{
    Makes each synchronous `gpu.launch_func` of host code asynchronous,
    chained after the previous GPU operation of its block, and puts one
    `gpu.wait` before the first op that may touch what the kernels use:
    anything with memory effects on buffers other than host allocations and
    constant globals (copies, loads and stores of GPU buffers, calls such
    as the KV-cache functions), ops with regions and terminators. Waits
    that only ended an asynchronous dealloc move down to that point, and a
    fresh stream (`gpu.wait async`) continues the pending chain. Without it
    gpu-to-llvm synchronises after every launch.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def DgFuseElementwise : Pass<"dg-fuse-elementwise"> {
  let summary = "Merge chains of elementwise linalg.generic ops";
  let description = [{
    Fuses an all-parallel `linalg.generic` into the all-parallel generic
    that reads it (upstream's elementwise fusion), so that a chain such as
    a softcap, a temperature or a gated GELU is one loop nest: one kernel
    and one pass over memory on the GPU instead of one per op. Reductions,
    contractions and generics with a `dg.contract` for later passes
    (`#dg.best_of_rows`, `#dg.grouped_by_expert`, ...) are neither fused
    into nor fused away, so the GPU passes still find them whole (other
    attributes do not keep a generic whole), and a producer that has other
    readers stays, so nothing is computed twice. Runs on tensors, after
    convert-dg-to-linalg.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def DgHostOutlineLoopNests
    : Pass<"dg-host-outline-loop-nests", "mlir::ModuleOp"> {
  let summary = "Each loop nest of a graph as a function of its own";
  let description = [{
    Moves each loop (an op with `LoopLikeOpInterface`: `scf.for`,
    `scf.parallel`, `scf.while`, `scf.forall`) at the top of a public
    function's body into a new private function, internal to the library
    and never inlined, and calls it there. Values the nest uses from above
    become the function's arguments, but constants are cloned into it.
    LLVM's optimiser and code generator grow faster than linearly with a
    function's size, and a graph is thousands of nests: as one function
    the tiny config took a minute to compile for the host. Loops nested in
    other ops (an `scf.if`) and functions already private stay as they are.

    A nest whose innermost body runs fewer than `small-nest-iterations`
    times (along its heaviest path; a dynamic trip count counts as 16) is
    also marked `optsize`: -O3 would unroll and vectorise it, with runtime
    alias checks, for little gain and much code.

    A nest of at least `parallel-nest-iterations` that is an `scf.parallel`
    without results is outlined in chunks: the function, marked
    `dg.parallel_chunks`, takes a range [begin, end) of one of its loops'
    iterations first (the first loop with a constant trip count of two or
    more, else a dynamic one) and runs only those; the call passes the
    whole range. dg-host-parallel-dispatch later shares the range out
    among the runtime's threads.
  }];
  let options = [
    Option<"smallNestIterations", "small-nest-iterations", "int64_t",
           /*default=*/"65536",
           "Nests of fewer iterations are optimised for size">,
    Option<"parallelNestIterations", "parallel-nest-iterations", "int64_t",
           /*default=*/"32768",
           "scf.parallel nests of at least this many iterations run in "
           "chunks on threads">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::func::FuncDialect",
                           "mlir::LLVM::LLVMDialect"];
}

def DgHostParallelDispatch
    : Pass<"dg-host-parallel-dispatch", "mlir::ModuleOp"> {
  let summary = "Calls of chunked loop nests shared out among threads";
  let description = [{
    Runs on the LLVM dialect, after convert-func-to-llvm. Each call of a
    function marked `dg.parallel_chunks` (see dg-host-outline-loop-nests),
    `@f(begin, end, args...)`, becomes a call of `hostParallelFor`'s
    pointer: the arguments are stored in a context on the caller's stack,
    and a trampoline `@f_chunk(context, first, last)` calls
    `@f(begin + first, begin + last, args...)` for each chunk. The pointer
    is the library's exported variable `dgc_parallel_for`, which the
    runtime sets when it loads the library; while it is null (a library
    used alone) the trampoline runs the whole range on the caller's thread.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif // DGC_PASSES_TD
