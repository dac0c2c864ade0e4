// RUN: dgc-opt %s --lower-dg-runtime-interface | FileCheck %s

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 8, window = 4, f32>

// The module records the packed weight arena: offsets 64-byte aligned, in
// order of first use, one slot per name.
// CHECK: module attributes {dg.kv_cache_pools = {kv_cache_sliding = {dtype = f32, head_dim = 8 : i64, kind = "sliding", kv_heads = 2 : i64, layers = 2 : i64, window = 4 : i64}}
// CHECK-SAME: dg.weight_bytes = 192 : i64
// CHECK-SAME: dg.weight_table = [{name = "a", offset = 0 : i64, shape = array<i64: 3>, type = f32}, {name = "b", offset = 64 : i64, shape = array<i64: 4, 8>, type = f32}]

// Nothing is left to call: the cache is the pool's rows and the table.
// CHECK-NOT: func.func private

// The cache argument becomes its pool (every row of every page) and its
// table ([requests, 4 + positions] of i64).
// CHECK-LABEL: func.func @graph(
// CHECK-SAME: %[[ARENA:.*]]: memref<?xi8> {dg.name = "weights"}, %{{.*}}: tensor<?x?x2x8xf32>, %{{.*}}: tensor<?x?xi32>,
// CHECK-SAME: %[[POOL:.*]]: memref<?x2x8xf32> {dg.kv_cache, dg.name = "kv_cache_sliding"},
// CHECK-SAME: %[[TABLE:.*]]: memref<?x?xi64> {dg.kv_cache_table, dg.name = "kv_cache_sliding.table"})
// CHECK-SAME: attributes {llvm.emit_c_interface}
func.func @graph(%k: tensor<?x?x2x8xf32>, %pos: tensor<?x?xi32>, %c: !pool {dg.name = "kv_cache_sliding"}) -> (tensor<3xf32>, tensor<4x8xf32>, tensor<?x?x2x8xf32>) {
  // CHECK: %[[OFF:.*]] = arith.constant 64 : index
  // CHECK: memref.view %[[ARENA]][%[[OFF]]][] : memref<?xi8> to memref<4x8xf32>
  // CHECK: bufferization.to_tensor %{{.*}} restrict : memref<4x8xf32> to tensor<4x8xf32>
  %a = dg.weight "a" : tensor<3xf32>
  %b = dg.weight "b" : tensor<4x8xf32>

  // The write: one loop over [B, T, heads, dim]. Position p is row
  // p - F of the table (F, the first position it lists, is column 3), whose
  // entry is p's layer-0 K row; layer 1's K is 2 * 1 pages of rows further,
  // its V one page more. Scratch rows below the committed length (column 0)
  // are skipped, and the position goes to the error cell (column 2).
  // CHECK: %[[K:.*]] = bufferization.to_buffer %{{.*}} read_only
  // CHECK: %[[POS:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x?xi32>
  // CHECK: scf.parallel (%[[B:.*]], %[[T:.*]], %[[H:.*]], %[[D:.*]]) =
  // CHECK:   %[[P:.*]] = memref.load %[[POS]][%[[B]], %[[T]]]
  // CHECK:   %[[F:.*]] = memref.load %[[TABLE]][%[[B]], %c3{{.*}}]
  // CHECK:   %[[FI:.*]] = arith.index_cast %[[F]] : i64 to index
  // CHECK:   arith.subi %{{.*}}, %[[FI]] : index
  // CHECK:   %[[ENTRY:.*]] = memref.load %[[TABLE]][%[[B]], %{{.*}}]
  // CHECK:   %[[COMMITTED:.*]] = memref.load %[[TABLE]][%[[B]], %c0{{.*}}]
  // CHECK:   arith.cmpi sge, %{{.*}}, %{{.*}} : index
  // CHECK:   scf.if
  // CHECK:     %[[PAGE:.*]] = memref.load %[[TABLE]][%[[B]], %c1{{.*}}]
  // CHECK:     %[[PAGEI:.*]] = arith.index_cast %[[PAGE]] : i64 to index
  // CHECK:     %[[SKIP:.*]] = arith.muli %c2{{.*}}, %[[PAGEI]]
  // CHECK:     %[[ROW:.*]] = arith.addi %{{.*}}, %[[SKIP]]
  // CHECK:     memref.store %{{.*}}, %[[POOL]][%[[ROW]], %[[H]], %[[D]]]
  // CHECK:     %[[VROW:.*]] = arith.addi %[[ROW]], %[[PAGEI]]
  // CHECK:     memref.store %{{.*}}, %[[POOL]][%[[VROW]], %[[H]], %[[D]]]
  // CHECK:   } else {
  // CHECK:     memref.store %{{.*}}, %[[TABLE]][%[[B]], %c2{{.*}}] : memref<?x?xi64>
  dg.kv_cache_write %c[1], %k, %k, %pos {scratch} : !pool, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?xi32>
  %len = dg.reduce <max> %pos {axis = 1 : i64} : tensor<?x?xi32> -> tensor<?xi32>

  // The read: [B, S] rows with S the table's positions; row s is position
  // F + s, and a row past the request's length or without a page is zero
  // with position -1.
  // CHECK: %[[LEN:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?xi32>
  // CHECK: %[[COLS:.*]] = memref.dim %[[TABLE]], %c1
  // CHECK: %[[S:.*]] = arith.subi %[[COLS]], %c4
  // CHECK: %[[KEYS:.*]] = memref.alloc(%{{.*}}, %[[S]]) : memref<?x?x2x8xf32>
  // CHECK: %[[KPOS:.*]] = memref.alloc(%{{.*}}, %[[S]]) : memref<?x?xi32>
  // CHECK: scf.parallel (%[[RB:.*]], %[[RS:.*]], %[[RH:.*]], %[[RD:.*]]) =
  // CHECK:   memref.load %[[LEN]][%[[RB]]]
  // CHECK:   %[[RF:.*]] = memref.load %[[TABLE]][%[[RB]], %c3{{.*}}]
  // CHECK:   %[[RFI:.*]] = arith.index_cast %[[RF]] : i64 to index
  // CHECK:   %[[RPOS:.*]] = arith.addi %[[RFI]], %[[RS]] : index
  // CHECK:   %[[ROWS:.*]]:2 = scf.if %{{.*}} -> (f32, f32) {
  // CHECK:     memref.load %[[POOL]]
  // CHECK:     memref.load %[[POOL]]
  // CHECK:   } else {
  // CHECK:     arith.constant 0.000000e+00 : f32
  // CHECK:   memref.store %[[ROWS]]#0, %[[KEYS]][%[[RB]], %[[RS]], %[[RH]], %[[RD]]]
  // CHECK:   scf.if
  // CHECK:     arith.index_cast %[[RPOS]] : index to i32
  // CHECK:     arith.constant -1 : i32
  // CHECK:     memref.store %{{.*}}, %[[KPOS]][%[[RB]], %[[RS]]]
  // CHECK: bufferization.to_tensor %[[KEYS]] restrict writable
  %keys, %values, %kpos = dg.kv_cache_read %c[1], %len : !pool, tensor<?xi32> -> tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?xi32>
  // CHECK-NOT: dg.
  return %a, %b, %keys : tensor<3xf32>, tensor<4x8xf32>, tensor<?x?x2x8xf32>
}

// A commit (no scratch) may write below the committed length: no test of
// column 0.
// CHECK-LABEL: func.func @commit(
// CHECK-SAME: memref<?xi8> {dg.name = "weights"}, %{{.*}}: tensor<1x1x2x8xf32>, %{{.*}}: tensor<1x1xi32>, %{{.*}}: memref<?x2x8xf32> {dg.kv_cache, dg.name = "kv_cache_sliding"}, %[[CT:.*]]: memref<?x?xi64>
// CHECK: scf.parallel
// CHECK-NOT: memref.load %[[CT]][%{{.*}}, %c0
// CHECK: scf.if
// CHECK: return
func.func @commit(%k: tensor<1x1x2x8xf32>, %pos: tensor<1x1xi32>, %c: !pool {dg.name = "kv_cache_sliding"}) {
  dg.kv_cache_write %c[0], %k, %k, %pos : !pool, tensor<1x1x2x8xf32>, tensor<1x1x2x8xf32>, tensor<1x1xi32>
  return
}
