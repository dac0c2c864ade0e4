// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-block-reductions))" --split-input-file | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-block-reductions{short-rows=8}))" --split-input-file | FileCheck %s --check-prefix=SHORT8
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-block-reductions{short-rows=4}))" --split-input-file | FileCheck %s --check-prefix=SHORT4

// A softmax's row maximum: one block per row, 256 threads striding over the
// 512 values of the row from -inf, a shared-memory tree of maximumf, and
// thread 0 folding the total into the output.
#in = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @row_max
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c256{{.*}}, {{.*}}) workgroup(%[[SMEM:.*]] : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[PART:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c256{{.*}} iter_args(%[[ACC:.*]] = %[[NEG]]) -> (f32)
// CHECK:   %[[X:.*]] = memref.load %arg0[
// CHECK:   %[[M:.*]] = arith.maximumf %[[ACC]], %[[X]] : f32
// CHECK:   scf.yield %[[M]] : f32
// CHECK: memref.store %[[PART]], %[[SMEM]]
// CHECK: gpu.barrier
// CHECK-COUNT-8: arith.maximumf
// CHECK: memref.store %{{.*}}, %arg1[
func.func @row_max(%x: memref<?x16x512xf32>, %m: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x16x512xf32>) outs(%m : memref<?x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.maximumf %out, %in : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// A norm's sum of squares over a short row: the body's map part (the
// square) runs per element, and 64 threads suffice for 64 values.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @sum_of_squares
// CHECK: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c64{{.*}}, {{.*}}) workgroup(%{{.*}} : memref<64xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK-COUNT-6: arith.addf
func.func @sum_of_squares(%x: memref<?x64xf32>, %s: memref<?xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.mulf %in, %in : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// A sum over a token's eight experts: a row this short stays one thread's
// loop (a block per output element would leave 24 of a warp's 32 threads
// with nothing to add), unless short-rows says otherwise.
#in = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @experts_sum
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
// SHORT8-LABEL: func.func @experts_sum
// SHORT8-NOT: gpu.launch
// SHORT4-LABEL: func.func @experts_sum
// SHORT4: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c32{{.*}}, {{.*}})
func.func @experts_sum(%x: memref<?x8x2816xf32>, %s: memref<?x2816xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x8x2816xf32>) outs(%s : memref<?x2816xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// Left alone: a contraction, a reduction that is not the last loop, a bf16
// accumulator, and a body that reads the accumulator twice.
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#first = affine_map<(d0, d1) -> (d1)>
#all = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @left_alone
// SHORT8-LABEL: func.func @left_alone
// SHORT4-LABEL: func.func @left_alone
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: gpu.launch
func.func @left_alone(%a: memref<8x16xf32>, %b: memref<16x8xf32>, %c: memref<8x8xf32>,
                      %x: memref<8x16xf32>, %y: memref<16xf32>, %h: memref<8x16xbf16>,
                      %z: memref<8xbf16>, %w: memref<8xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<8x16xf32>, memref<16x8xf32>) outs(%c : memref<8x8xf32>) {
  ^bb0(%i: f32, %j: f32, %o: f32):
    %0 = arith.mulf %i, %j : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#all, #first], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<8x16xf32>) outs(%y : memref<16xf32>) {
  ^bb0(%i: f32, %o: f32):
    %0 = arith.addf %o, %i : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#all, #row], iterator_types = ["parallel", "reduction"]}
      ins(%h : memref<8x16xbf16>) outs(%z : memref<8xbf16>) {
  ^bb0(%i: bf16, %o: bf16):
    %0 = arith.addf %o, %i : bf16
    linalg.yield %0 : bf16
  }
  linalg.generic {indexing_maps = [#all, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x16xf32>) outs(%w : memref<8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %0 = arith.mulf %o, %i : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// An argmax as convert-dg-to-linalg writes it (#dg.best_of_rows):
// each thread keeps its best (value, index) from (-inf, INT_MAX), the tree
// keeps the larger value or, on a tie, the lower index.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// The element's index is the loop's: no linalg.index is left.
// CHECK-LABEL: func.func @argmax
// CHECK-NOT: linalg.index
// CHECK: gpu.launch {{.*}} workgroup(%[[V:.*]] : memref<256xf32, #gpu.address_space<workgroup>>, %[[I:.*]] : memref<256xi32, #gpu.address_space<workgroup>>)
// CHECK: %{{.*}}:2 = scf.for %[[R:.*]] = {{.*}} iter_args(%{{.*}} = %cst{{.*}}, %{{.*}} = %c2147483647_i32) -> (f32, i32)
// CHECK:   arith.index_cast %[[R]] : index to i32
// CHECK-NOT: linalg.index
// CHECK: gpu.barrier
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi slt
// CHECK: memref.store %{{.*}}, %[[I]]
// CHECK: memref.store %{{.*}}, %arg2[
func.func @argmax(%x: memref<?x512xf32>, %v: memref<?xf32>, %i: memref<?xi32>) {
  linalg.generic {indexing_maps = [#in, #out, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x512xf32>) outs(%v, %i : memref<?xf32>, memref<?xi32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %bv: f32, %bi: i32):
    %idx = linalg.index 1 : index
    %j = arith.index_cast %idx : index to i32
    %gt = arith.cmpf ogt, %in, %bv : f32
    %eq = arith.cmpf oeq, %in, %bv : f32
    %lt = arith.cmpi slt, %j, %bi : i32
    %tie = arith.andi %eq, %lt : i1
    %better = arith.ori %gt, %tie : i1
    %nv = arith.select %better, %in, %bv : f32
    %ni = arith.select %better, %j, %bi : i32
    linalg.yield %nv, %ni : f32, i32
  }
  return
}

// -----

// The sampler's row statistics (#dg.row_statistics): four partials
// per thread from the empty row's (-inf, 0, 0, INT_MAX), merged in the tree
// by rescaling to the larger max (an empty side adds nothing), the argmax
// keeping the lower index on a tie.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @row_statistics
// CHECK: gpu.launch {{.*}} workgroup(%[[M:.*]] : memref<256xf32, #gpu.address_space<workgroup>>, %[[S:.*]] : memref<256xf32, #gpu.address_space<workgroup>>, %[[U:.*]] : memref<256xf32, #gpu.address_space<workgroup>>, %[[I:.*]] : memref<256xi32, #gpu.address_space<workgroup>>)
// CHECK: %{{.*}}:4 = scf.for {{.*}} iter_args(%{{.*}} = %cst{{.*}}, %{{.*}} = %cst{{.*}}, %{{.*}} = %cst{{.*}}, %{{.*}} = %c2147483647_i32) -> (f32, f32, f32, i32)
// CHECK: gpu.barrier
// CHECK: arith.maximumf
// CHECK: arith.cmpf oeq, %{{.*}}, %cst
// CHECK: math.exp
// CHECK: arith.select
// CHECK: math.exp
// CHECK: arith.cmpi slt
// CHECK: memref.store %{{.*}}, %[[U]]
// CHECK: memref.store %{{.*}}, %[[I]]
// CHECK: memref.store %{{.*}}, %arg1[
// CHECK: memref.store %{{.*}}, %arg2[
// CHECK: memref.store %{{.*}}, %arg3[
// CHECK: memref.store %{{.*}}, %arg4[
func.func @row_statistics(%x: memref<?x512xf32>, %m: memref<?xf32>, %s: memref<?xf32>, %u: memref<?xf32>, %i: memref<?xi32>) {
  linalg.generic {indexing_maps = [#in, #out, #out, #out, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x512xf32>) outs(%m, %s, %u, %i : memref<?xf32>, memref<?xf32>, memref<?xf32>, memref<?xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %om: f32, %os: f32, %ou: f32, %oi: i32):
    // A stand-in body; the pass folds with whatever the body says.
    %idx = linalg.index 1 : index
    %j = arith.index_cast %idx : index to i32
    %nm = arith.maximumf %om, %in : f32
    %ns = arith.addf %os, %in : f32
    linalg.yield %nm, %ns, %ou, %j : f32, f32, f32, i32
  }
  return
}

// -----

// Row statistics, but in f16 where the tree merges f32 states: left alone.
// (Outputs of other kinds contradict the contract; the verifier rejects
// them, test/dialects/dg/attrs-invalid.mlir.)
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @not_row_statistics
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @not_row_statistics(%x: memref<?x512xf32>, %m: memref<?xf16>, %s: memref<?xf16>, %u: memref<?xf16>, %i: memref<?xi32>) {
  linalg.generic {indexing_maps = [#in, #out, #out, #out, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x512xf32>) outs(%m, %s, %u, %i : memref<?xf16>, memref<?xf16>, memref<?xf16>, memref<?xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %om: f16, %os: f16, %ou: f16, %oi: i32):
    linalg.yield %om, %os, %ou, %oi : f16, f16, f16, i32
  }
  return
}

// -----

// Outputs that start as constants: the sum's buffer is a copy of a zero
// fill (bufferization's copy of a shared init), the argmax's index a fill.
// Thread 0 starts from those constants; the fills and the copy, a kernel
// each, go. The max's output is read in between, so it keeps its fill and
// the block reads what the output held. The argmax's (value, index) start
// as fills too.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @constant_inits
// CHECK-SAME: %[[X:[^:]*]]: memref<?x64xf32>, %[[SEEN:[^:]*]]: memref<?xf32>
// CHECK: %[[ZEROS:.*]] = memref.alloc
// CHECK-NOT: linalg.fill
// CHECK: %[[SUM:.*]] = memref.alloc
// CHECK-NOT: linalg.copy
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[TOTAL:.*]] = arith.addf %[[ZERO]], %{{.*}} : f32
// CHECK: memref.store %[[TOTAL]], %[[SUM]][
// CHECK: gpu.terminator
// CHECK: %[[MAX:.*]] = memref.alloc
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[MAX]] :
// CHECK: linalg.copy ins(%[[MAX]] : memref<?xf32>) outs(%[[SEEN]] :
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: %[[OLD:.*]] = memref.load %[[MAX]][
// CHECK: arith.maximumf %[[OLD]],
// CHECK: gpu.terminator
// CHECK: %[[V:.*]] = memref.alloc
// CHECK: %[[I:.*]] = memref.alloc
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK-NOT: memref.load %[[V]]
// CHECK-NOT: memref.load %[[I]]
// CHECK: arith.constant 2147483647 : i32
// CHECK: memref.store %{{.*}}, %[[V]][
// CHECK: memref.store %{{.*}}, %[[I]][
// CHECK: gpu.terminator
func.func @constant_inits(%x: memref<?x64xf32>, %seen: memref<?xf32>) -> (memref<?xf32>, memref<?xf32>, memref<?xf32>, memref<?xi32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %none = arith.constant 2147483647 : i32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %zeros = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%zeros : memref<?xf32>)
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.copy ins(%zeros : memref<?xf32>) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  %max = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<?xf32>)
  linalg.copy ins(%max : memref<?xf32>) outs(%seen : memref<?xf32>)
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%max : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.maximumf %out, %in : f32
    linalg.yield %0 : f32
  }
  %v = memref.alloc(%n) : memref<?xf32>
  %i = memref.alloc(%n) : memref<?xi32>
  linalg.fill ins(%ninf : f32) outs(%v : memref<?xf32>)
  linalg.fill ins(%none : i32) outs(%i : memref<?xi32>)
  linalg.generic {indexing_maps = [#in, #out, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%v, %i : memref<?xf32>, memref<?xi32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %ov: f32, %oi: i32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %better = arith.cmpf ogt, %in, %ov : f32
    %nv = arith.select %better, %in, %ov : f32
    %ni = arith.select %better, %ji, %oi : i32
    linalg.yield %nv, %ni : f32, i32
  }
  return %sum, %max, %v, %i : memref<?xf32>, memref<?xf32>, memref<?xf32>, memref<?xi32>
}
