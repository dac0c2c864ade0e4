// RUN: dgc-opt %s --convert-dg-to-runtime-abi --split-input-file | FileCheck %s

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 8, window = 4, f32>

// The module records the packed weight arena: offsets 64-byte aligned, in
// order of first use, one slot per name.
// CHECK: module attributes {dg.kv_cache_pools = {kv_cache_sliding = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 8, window = 4, f32>}
// CHECK-SAME: dg.weight_bytes = 192 : i64
// CHECK-SAME: dg.weight_table = [#dg.weight_slot<name = "a", offset = 0, shape = [3], type = f32>, #dg.weight_slot<name = "b", offset = 64, shape = [4, 8], type = f32>]

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
  // CHECK:     %[[VROW:.*]] = arith.addi %[[ROW]], %[[PAGEI]]
  // CHECK:     memref.store %{{.*}}, %[[POOL]][%[[ROW]], %[[H]], %[[D]]]
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

// -----

!full = !dg.kv_cache<full, layers = 2, kv_heads = 2, head_dim = 32, window = 0, bf16>

// Rows only flash attention reads stay in the pool: one loop over [B, S]
// gives each row's pool rows (K's, then V's a page further; -1 where the
// gather would give a zero row) and its position, and the attention reads
// the pool through them. No [B, S, heads, dim] copy is made.
// CHECK-LABEL: func.func @attend(
// CHECK-SAME: %[[POOL:[a-z0-9]+]]: memref<?x2x32xbf16> {dg.kv_cache, dg.name = "kv_cache_full"}, %[[TABLE:[a-z0-9]+]]: memref<?x?xi64>
// CHECK-NOT: memref.alloc({{.*}}) : memref<{{.*}}x2x32xbf16>
// CHECK: %[[ROWS:.*]] = memref.alloc(%[[S:.*]]) : memref<1x?x2xi64>
// CHECK: %[[KPOS:.*]] = memref.alloc(%[[S]]) : memref<1x?xi32>
// CHECK: scf.parallel (%[[B:.*]], %[[R:.*]]) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %[[S]])
// CHECK:   %[[PAGE:.*]] = memref.load %[[TABLE]][%[[B]], %c1{{.*}}]
// CHECK:   %[[PAGEI:.*]] = arith.index_cast %[[PAGE]] : i64 to index
// CHECK:   %[[SKIP:.*]] = arith.muli %c2{{.*}}, %[[PAGEI]]
// CHECK:   %[[K:.*]] = arith.addi %{{.*}}, %[[SKIP]]
// CHECK:   %[[V:.*]] = arith.addi %[[K]], %[[PAGEI]]
// CHECK:   %[[KROW:.*]] = arith.select %{{.*}}, %[[K]], %c-1
// CHECK:   %[[KROW64:.*]] = arith.index_cast %[[KROW]] : index to i64
// CHECK:   memref.store %[[KROW64]], %[[ROWS]][%[[B]], %[[R]], %c0{{.*}}]
// CHECK:   %[[VROW:.*]] = arith.select %{{.*}}, %[[V]], %c-1
// CHECK:   %[[VROW64:.*]] = arith.index_cast %[[VROW]] : index to i64
// CHECK:   memref.store %[[VROW64]], %[[ROWS]][%[[B]], %[[R]], %c1{{.*}}]
// CHECK:   memref.store %{{.*}}, %[[KPOS]][%[[B]], %[[R]]]
// CHECK: %[[ROWST:.*]] = bufferization.to_tensor %[[ROWS]] restrict writable
// CHECK: %[[KPOST:.*]] = bufferization.to_tensor %[[KPOS]] restrict writable
// CHECK: %[[PT:.*]] = bufferization.to_tensor %[[POOL]] restrict : memref<?x2x32xbf16> to tensor<?x2x32xbf16>
// CHECK-NOT: dg.kv_cache_read
// CHECK: dg.masked_attention %{{.*}}, %[[PT]], %[[PT]], %{{.*}} rows %[[ROWST]] into
// CHECK: return %{{.*}}, %[[KPOST]]
func.func @attend(%q: tensor<1x16x4x32xbf16>, %m: tensor<1x16x?xbf16>, %len: tensor<1xi32>, %c: !full {dg.name = "kv_cache_full"}) -> (tensor<1x16x4x32xbf16>, tensor<1x?xi32>) {
  %keys, %values, %kpos = dg.kv_cache_read %c[1], %len : !full, tensor<1xi32> -> tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?xi32>
  %o = tensor.empty() : tensor<1x16x4x32xbf16>
  %a = dg.masked_attention %q, %keys, %values, %m into %o {scale = 1.0 : f64} : tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x16x?xbf16> into tensor<1x16x4x32xbf16> -> tensor<1x16x4x32xbf16>
  return %a, %kpos : tensor<1x16x4x32xbf16>, tensor<1x?xi32>
}

// Rows anything else reads are gathered as before.
// CHECK-LABEL: func.func @attend_and_return(
// CHECK: memref.alloc(%{{.*}}) : memref<1x?x2x32xbf16>
// CHECK-NOT: x2xi64>
// CHECK: dg.masked_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} into
func.func @attend_and_return(%q: tensor<1x16x4x32xbf16>, %m: tensor<1x16x?xbf16>, %len: tensor<1xi32>, %c: !full {dg.name = "kv_cache_full"}) -> (tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>) {
  %keys, %values, %kpos = dg.kv_cache_read %c[1], %len : !full, tensor<1xi32> -> tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?xi32>
  %o = tensor.empty() : tensor<1x16x4x32xbf16>
  %a = dg.masked_attention %q, %keys, %values, %m into %o {scale = 1.0 : f64} : tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x16x?xbf16> into tensor<1x16x4x32xbf16> -> tensor<1x16x4x32xbf16>
  return %a, %values : tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>
}

// Keys read as values (or the other way round) are not attention's
// layout of a read: gathered.
// CHECK-LABEL: func.func @swapped(
// CHECK: memref.alloc(%{{.*}}) : memref<1x?x2x32xbf16>
// CHECK-NOT: rows
// CHECK: return
func.func @swapped(%q: tensor<1x16x4x32xbf16>, %m: tensor<1x16x?xbf16>, %len: tensor<1xi32>, %c: !full {dg.name = "kv_cache_full"}) -> tensor<1x16x4x32xbf16> {
  %keys, %values, %kpos = dg.kv_cache_read %c[1], %len : !full, tensor<1xi32> -> tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?xi32>
  %o = tensor.empty() : tensor<1x16x4x32xbf16>
  %a = dg.masked_attention %q, %values, %keys, %m into %o {scale = 1.0 : f64} : tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x16x?xbf16> into tensor<1x16x4x32xbf16> -> tensor<1x16x4x32xbf16>
  return %a : tensor<1x16x4x32xbf16>
}

// -----

!full = !dg.kv_cache<full, layers = 2, kv_heads = 2, head_dim = 32, window = 0, bf16>

// Two layers' reads of one cache up to the same lengths list the same
// positions: the first read's loop writes them, the second's only its pool
// rows, and both layers' users see the first's (so cse can merge what they
// build from them, such as masks). A read up to other lengths writes its own.
// CHECK-LABEL: func.func @two_layers(
// CHECK: %[[KPOS:.*]] = memref.alloc(%{{.*}}) : memref<1x?xi32>
// CHECK: %[[POS:.*]] = bufferization.to_tensor %[[KPOS]] restrict writable
// CHECK: dg.masked_attention
// CHECK-NOT: memref<1x?xi32>
// CHECK: memref.alloc(%{{.*}}) : memref<1x?x2xi64>
// CHECK-NOT: memref<1x?xi32>
// CHECK: dg.masked_attention
// CHECK: %[[OTHER:.*]] = memref.alloc(%{{.*}}) : memref<1x?xi32>
// CHECK: %[[OTHERPOS:.*]] = bufferization.to_tensor %[[OTHER]]
// CHECK: return %{{.*}}, %{{.*}}, %[[POS]], %[[POS]], %[[OTHERPOS]]
func.func @two_layers(%q: tensor<1x16x4x32xbf16>, %m: tensor<1x16x?xbf16>, %len: tensor<1xi32>, %len2: tensor<1xi32>, %c: !full {dg.name = "kv_cache_full"}) -> (tensor<1x16x4x32xbf16>, tensor<1x16x4x32xbf16>, tensor<1x?xi32>, tensor<1x?xi32>, tensor<1x?xi32>) {
  %o = tensor.empty() : tensor<1x16x4x32xbf16>
  %k0, %v0, %p0 = dg.kv_cache_read %c[0], %len : !full, tensor<1xi32> -> tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?xi32>
  %a0 = dg.masked_attention %q, %k0, %v0, %m into %o {scale = 1.0 : f64} : tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x16x?xbf16> into tensor<1x16x4x32xbf16> -> tensor<1x16x4x32xbf16>
  %k1, %v1, %p1 = dg.kv_cache_read %c[1], %len : !full, tensor<1xi32> -> tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?xi32>
  %a1 = dg.masked_attention %q, %k1, %v1, %m into %o {scale = 1.0 : f64} : tensor<1x16x4x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x16x?xbf16> into tensor<1x16x4x32xbf16> -> tensor<1x16x4x32xbf16>
  %k2, %v2, %p2 = dg.kv_cache_read %c[1], %len2 : !full, tensor<1xi32> -> tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?xi32>
  return %a0, %a1, %p0, %p1, %p2 : tensor<1x16x4x32xbf16>, tensor<1x16x4x32xbf16>, tensor<1x?xi32>, tensor<1x?xi32>, tensor<1x?xi32>
}
