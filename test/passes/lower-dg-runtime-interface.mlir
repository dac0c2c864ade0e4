// RUN: dgc-opt %s --lower-dg-runtime-interface | FileCheck %s

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 8, window = 4, f32>

// The module records the packed weight arena: offsets 64-byte aligned, in
// order of first use, one slot per name.
// CHECK: module attributes {dg.kv_cache_pools = {kv_cache_sliding = {dtype = f32, head_dim = 8 : i64, kind = "sliding", kv_heads = 2 : i64, layers = 2 : i64, window = 4 : i64}}
// CHECK-SAME: dg.weight_bytes = 192 : i64
// CHECK-SAME: dg.weight_table = [{name = "a", offset = 0 : i64, shape = array<i64: 3>, type = f32}, {name = "b", offset = 64 : i64, shape = array<i64: 4, 8>, type = f32}]

// CHECK-DAG: func.func private @dgc_kv_cache_rows(!llvm.ptr, memref<*xi32>) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @dgc_kv_cache_write_f32(!llvm.ptr, i64, memref<*xf32>, memref<*xf32>, memref<*xi32>, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @dgc_kv_cache_read_f32(!llvm.ptr, i64, memref<*xi32>, memref<*xf32>, memref<*xf32>, memref<*xi32>) attributes {llvm.emit_c_interface}

// CHECK-LABEL: func.func @graph(
// CHECK-SAME: %[[ARENA:.*]]: memref<?xi8> {dg.name = "weights"}, %{{.*}}: tensor<?x?x2x8xf32>, %{{.*}}: tensor<?x?xi32>, %[[CACHE:.*]]: !llvm.ptr {dg.name = "kv_cache_sliding"})
// CHECK-SAME: attributes {llvm.emit_c_interface}
func.func @graph(%k: tensor<?x?x2x8xf32>, %pos: tensor<?x?xi32>, %c: !pool {dg.name = "kv_cache_sliding"}) -> (tensor<3xf32>, tensor<4x8xf32>, tensor<?x?x2x8xf32>) {
  // CHECK: %[[OFF:.*]] = arith.constant 64 : index
  // CHECK: memref.view %[[ARENA]][%[[OFF]]][] : memref<?xi8> to memref<4x8xf32>
  // CHECK: bufferization.to_tensor %{{.*}} restrict : memref<4x8xf32> to tensor<4x8xf32>
  %a = dg.weight "a" : tensor<3xf32>
  %b = dg.weight "b" : tensor<4x8xf32>
  // CHECK: %[[K:.*]] = bufferization.to_buffer %{{.*}} read_only
  // CHECK: memref.cast %[[K]] : memref<?x?x2x8xf32> to memref<*xf32>
  // CHECK: call @dgc_kv_cache_write_f32(%[[CACHE]], %c1_i64, {{.*}}, %c1_i32)
  dg.kv_cache_write %c[1], %k, %k, %pos {scratch} : !pool, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?xi32>
  %len = dg.reduce <max> %pos {axis = 1 : i64} : tensor<?x?xi32> -> tensor<?xi32>
  // CHECK: %[[ROWS:.*]] = call @dgc_kv_cache_rows(%[[CACHE]], %{{.*}})
  // CHECK: %[[S:.*]] = arith.index_cast %[[ROWS]] : i64 to index
  // CHECK: %[[B:.*]] = tensor.dim
  // CHECK: %[[KEYS:.*]] = memref.alloc(%[[B]], %[[S]]) : memref<?x?x2x8xf32>
  // CHECK: call @dgc_kv_cache_read_f32(%[[CACHE]], %c1_i64
  // CHECK: bufferization.to_tensor %[[KEYS]] restrict writable
  %keys, %values, %kpos = dg.kv_cache_read %c[1], %len : !pool, tensor<?xi32> -> tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?xi32>
  // CHECK-NOT: dg.
  return %a, %b, %keys : tensor<3xf32>, tensor<4x8xf32>, tensor<?x?x2x8xf32>
}
