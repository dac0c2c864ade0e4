// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-vector-contractions))" --split-input-file | FileCheck %s

// A projection x W^T (W is [n, k], k contiguous) into a zero-filled C: an
// scf.parallel over the batch and panels of 4 columns; 2-row tiles of 8
// accumulators of 8 k-lanes, then one row at a time for an odd row left
// over; each row's 4 accumulators fold by shuffles to 4 sums, added to C's
// constant start (the fill goes).
#a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @projection
// CHECK-SAME: (%[[X:.*]]: memref<?x65x256xf32>, %[[W:.*]]: memref<512x256xf32>)
// CHECK-NOT: linalg.fill
// CHECK: %[[Y:.*]] = memref.alloc
// CHECK: scf.parallel (%[[B:.*]], %[[N:.*]]) = ({{.*}}) to ({{.*}}) step (%{{.*}}, %c4{{(_[0-9]+)?}}
// CHECK: scf.for %[[M:.*]] = %{{.*}} to %{{.*}} step %c2{{(_[0-9]+)?}}
// CHECK: %[[ACC:.*]]:8 = scf.for %[[K:.*]] = %{{.*}} to %c256{{(_[0-9]+)?}} step %c8{{(_[0-9]+)?}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[X]][%[[B]], %[[M]], %[[K]]] : memref<?x65x256xf32>, vector<8xf32>
// CHECK: vector.load %[[W]][%[[N]], %[[K]]] : memref<512x256xf32>, vector<8xf32>
// CHECK-COUNT-8: vector.fma
// CHECK: scf.yield
// CHECK: vector.shuffle %[[ACC]]#2, %[[ACC]]#3 [0, 2, 8, 10, 4, 6, 12, 14]
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [4, 5, 6, 7] : vector<8xf32>, vector<8xf32>
// CHECK: %[[SUMS:.*]] = arith.addf %{{.*}} : vector<4xf32>
// CHECK: %[[START:.*]] = arith.constant dense<0.000000e+00> : vector<4xf32>
// CHECK: %[[ROW:.*]] = arith.addf %[[START]], %[[SUMS]] : vector<4xf32>
// CHECK: vector.store %[[ROW]], %[[Y]][%[[B]], %[[M]], %[[N]]] : memref<?x65x512xf32>, vector<4xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c65{{(_[0-9]+)?}} step %c1{{(_[0-9]+)?}}
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-4: vector.fma
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @projection(%x: memref<?x65x256xf32>, %w: memref<512x256xf32>) -> memref<?x65x512xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x65x256xf32>
  %y = memref.alloc(%n) : memref<?x65x512xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x65x512xf32>)
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x65x256xf32>, memref<512x256xf32>) outs(%y : memref<?x65x512xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %y : memref<?x65x512xf32>
}

// -----

// Attention's values P V (V is [k, n], n contiguous; k the dynamic key
// count): panels of 16 columns, blocks of 256 keys, 4-row tiles of 8
// accumulators that start from C, one broadcast element of P per row and
// two vectors of V per key, keys in order.
#p = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#v = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d3)>
#o = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @values
// CHECK-SAME: (%[[P:.*]]: memref<?x4x64x?xf32>, %[[V:.*]]: memref<?x4x?x64xf32>, %[[O:.*]]: memref<?x4x64x64xf32>)
// CHECK: scf.parallel (%[[B:.*]], %[[H:.*]], %[[N:.*]]) = ({{.*}}) to ({{.*}}) step (%{{.*}}, %{{.*}}, %c16{{(_[0-9]+)?}}
// CHECK: scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %c256{{(_[0-9]+)?}}
// CHECK: %[[END:.*]] = arith.minui
// CHECK: scf.for %[[M:.*]] = %{{.*}} to %{{.*}} step %c4{{(_[0-9]+)?}}
// CHECK: vector.load %[[O]][%[[B]], %[[H]], %[[M]], %[[N]]]
// CHECK: scf.for %[[K:.*]] = %[[K0]] to %[[END]] step %c1{{(_[0-9]+)?}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[V]][%[[B]], %[[H]], %[[K]], %[[N]]] : memref<?x4x?x64xf32>, vector<8xf32>
// CHECK: %[[PE:.*]] = memref.load %[[P]][%[[B]], %[[H]], %[[M]], %[[K]]]
// CHECK: %[[PV:.*]] = vector.broadcast %[[PE]] : f32 to vector<8xf32>
// CHECK: vector.fma %[[PV]]
// CHECK: vector.store %{{.*}}, %[[O]][%[[B]], %[[H]], %[[M]], %[[N]]]
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @values(%p: memref<?x4x64x?xf32>, %v: memref<?x4x?x64xf32>, %o: memref<?x4x64x64xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : memref<?x4x64x?xf32>, memref<?x4x?x64xf32>) outs(%o : memref<?x4x64x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// Attention's scores Q K^T over a dynamic key count: panels of 4 columns
// cover the keys up to a multiple of 4, panels of 1 column the keys after
// them, each summing its 8 k-lanes in the order the 4-column fold does
// ((0+1 + 2+3) + (4+5 + 6+7)), so that a key's score does not depend on
// whether the key count put it in a wide panel. No generic is left.
#q = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#k = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
#s = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @scores
// CHECK-SAME: (%[[Q:.*]]: memref<1x4x64x64xf32>, %[[K:.*]]: memref<1x4x?x64xf32>, %[[S:.*]]: memref<1x4x64x?xf32>)
// CHECK: linalg.fill
// CHECK: %[[KEYS:.*]] = memref.dim %[[K]], %c2{{(_[0-9]+)?}}
// CHECK: %[[REM:.*]] = arith.remui %[[KEYS]], %c4{{(_[0-9]+)?}}
// CHECK: %[[FULL:.*]] = arith.subi %[[KEYS]], %[[REM]]
// CHECK: scf.parallel ({{.*}}) to (%{{.*}}, %{{.*}}, %[[FULL]]) step (%{{.*}}, %{{.*}}, %c4{{(_[0-9]+)?}})
// CHECK: vector.store %{{.*}}, %[[S]]{{.*}} : memref<1x4x64x?xf32>, vector<4xf32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %[[N:.*]]) = (%{{.*}}, %{{.*}}, %[[FULL]]) to (%{{.*}}, %{{.*}}, %[[KEYS]]) step (%{{.*}}, %{{.*}}, %c1{{(_[0-9]+)?}})
// CHECK: %[[ACC:.*]]:2 = scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[K]][%{{.*}}, %{{.*}}, %[[N]], %{{.*}}] : memref<1x4x?x64xf32>, vector<8xf32>
// CHECK-COUNT-2: vector.fma
// CHECK: %[[P0:.*]] = vector.shuffle %[[ACC]]#0, %[[ACC]]#0 [0, 2, 8, 10, 4, 6, 12, 14]
// CHECK: %[[P1:.*]] = vector.shuffle %[[ACC]]#0, %[[ACC]]#0 [1, 3, 9, 11, 5, 7, 13, 15]
// CHECK: %[[P:.*]] = arith.addf %[[P0]], %[[P1]] : vector<8xf32>
// CHECK: %[[T0:.*]] = vector.shuffle %[[P]], %[[P]] [0, 2, 8, 10, 4, 6, 12, 14]
// CHECK: %[[T1:.*]] = vector.shuffle %[[P]], %[[P]] [1, 3, 9, 11, 5, 7, 13, 15]
// CHECK: %[[T:.*]] = arith.addf %[[T0]], %[[T1]] : vector<8xf32>
// CHECK: %[[LOW:.*]] = vector.shuffle %[[T]], %[[T]] [0] : vector<8xf32>, vector<8xf32>
// CHECK: %[[HIGH:.*]] = vector.shuffle %[[T]], %[[T]] [4] : vector<8xf32>, vector<8xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[LOW]], %[[HIGH]] : vector<1xf32>
// CHECK: %[[OLD:.*]] = vector.load %[[S]][%{{.*}}, %{{.*}}, %{{.*}}, %[[N]]] : memref<1x4x64x?xf32>, vector<1xf32>
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUM]] : vector<1xf32>
// CHECK: vector.store %[[NEW]], %[[S]][%{{.*}}, %{{.*}}, %{{.*}}, %[[N]]] : memref<1x4x64x?xf32>, vector<1xf32>
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @scores(%q: memref<1x4x64x64xf32>, %k: memref<1x4x?x64xf32>, %s: memref<1x4x64x?xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%s : memref<1x4x64x?xf32>)
  linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : memref<1x4x64x64xf32>, memref<1x4x?x64xf32>) outs(%s : memref<1x4x64x?xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// P V with a dynamic column count: the columns after the 16-wide panels get
// panels 1 wide, k in order from C as in the wide ones. No generic is left.
#p = affine_map<(d0, d1, d2) -> (d0, d2)>
#v = affine_map<(d0, d1, d2) -> (d2, d1)>
#o = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @values_tail
// CHECK-SAME: (%[[P:.*]]: memref<8x?xf32>, %[[V:.*]]: memref<?x?xf32>, %[[O:.*]]: memref<8x?xf32>)
// CHECK: %[[COLUMNS:.*]] = memref.dim %[[V]], %c1
// CHECK: %[[REM:.*]] = arith.remui %[[COLUMNS]], %c16
// CHECK: %[[FULL:.*]] = arith.subi %[[COLUMNS]], %[[REM]]
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[FULL]]) step (%c16
// CHECK: scf.parallel (%[[N:.*]]) = (%[[FULL]]) to (%[[COLUMNS]]) step (%c1
// CHECK: scf.for %[[K:[^ ]*]] = {{.*}} -> (vector<1xf32>, vector<1xf32>, vector<1xf32>, vector<1xf32>)
// CHECK: vector.load %[[V]][%[[K]], %[[N]]] : memref<?x?xf32>, vector<1xf32>
// CHECK: vector.fma {{.*}} : vector<1xf32>
// CHECK: vector.store %{{.*}}, %[[O]][%{{.*}}, %[[N]]] : memref<8x?xf32>, vector<1xf32>
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @values_tail(%p: memref<8x?xf32>, %v: memref<?x?xf32>, %o: memref<8x?xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%p, %v : memref<8x?xf32>, memref<?x?xf32>) outs(%o : memref<8x?xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// Left alone: bf16 operands; a depth that is not a multiple of 8 in the
// B[n, k] form; a column stride other than 1; a body that is not a
// multiply-add (an RMSNorm's sum of squares has one input).
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0, d1)>
#sum = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: vector.
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: vector.
func.func @left_alone(%xh: memref<8x64xbf16>, %wh: memref<16x64xbf16>, %yh: memref<8x16xbf16>,
                      %x: memref<8x12xf32>, %w: memref<16x12xf32>, %y: memref<8x16xf32>,
                      %ys: memref<8x16xf32, strided<[32, 2]>>, %sq: memref<8xf32>) {
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%xh, %wh : memref<8x64xbf16>, memref<16x64xbf16>) outs(%yh : memref<8x16xbf16>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: bf16):
    %0 = arith.mulf %in, %in_0 : bf16
    %1 = arith.addf %out, %0 : bf16
    linalg.yield %1 : bf16
  }
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<8x12xf32>, memref<16x12xf32>) outs(%y : memref<8x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<8x12xf32>, memref<16x12xf32>) outs(%ys : memref<8x16xf32, strided<[32, 2]>>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#row, #sum], iterator_types = ["parallel", "reduction"]} ins(%y : memref<8x16xf32>) outs(%sq : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.mulf %in, %in : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// A grouped expert GEMM (tiles of 16 rows, each tile's expert an i32, -1 on
// padding tiles): its B is read in the body from the experts' weights at
// max(expert, 0). Each parallel iteration (a tile, a panel of 4 columns)
// reads the tile's expert once and loads that expert's rows of W.
#a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#e = affine_map<(d0, d1, d2, d3) -> (d0)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @grouped
// CHECK-SAME: (%[[X:.*]]: memref<?x16x256xf32>, %[[E:.*]]: memref<?xi32>, %[[W:.*]]: memref<8x128x256xf32>, %[[Y:.*]]: memref<?x16x128xf32>)
// CHECK: scf.parallel (%[[T:.*]], %[[N:.*]]) =
// CHECK: %[[ID:.*]] = memref.load %[[E]][%[[T]]] : memref<?xi32>
// CHECK: %[[ROW:.*]] = arith.maxsi %[[ID]], %c0_i32
// CHECK: %[[EXPERT:.*]] = arith.index_cast %[[ROW]] : i32 to index
// CHECK: scf.for %[[M:.*]] =
// CHECK: scf.for %[[K:[^ ]*]] = {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[X]][%[[T]], %[[M]], %[[K]]]
// CHECK: vector.load %[[W]][%[[EXPERT]], %[[N]], %[[K]]] : memref<8x128x256xf32>, vector<8xf32>
// CHECK-COUNT-8: vector.fma
// CHECK: vector.store %{{.*}}, %[[Y]][%[[T]], %[[M]], %[[N]]] : memref<?x16x128xf32>, vector<4xf32>
// CHECK-NOT: linalg.generic
func.func @grouped(%x: memref<?x16x256xf32>, %experts: memref<?xi32>, %w: memref<8x128x256xf32>, %y: memref<?x16x128xf32>) {
  %c0_i32 = arith.constant 0 : i32
  linalg.generic {indexing_maps = [#a, #e, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %experts : memref<?x16x256xf32>, memref<?xi32>) outs(%y : memref<?x16x128xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%in: f32, %expert: i32, %out: f32):
    %0 = arith.maxsi %expert, %c0_i32 : i32
    %1 = arith.index_cast %0 : i32 to index
    %2 = linalg.index 2 : index
    %3 = linalg.index 3 : index
    %4 = memref.load %w[%1, %2, %3] : memref<8x128x256xf32>
    %5 = arith.mulf %in, %4 : f32
    %6 = arith.addf %out, %5 : f32
    linalg.yield %6 : f32
  }
  return
}
