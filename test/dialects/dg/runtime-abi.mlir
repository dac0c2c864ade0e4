// RUN: dgc-opt %s | dgc-opt | FileCheck %s

// The runtime ABI's attributes as convert-dg-to-runtime-abi leaves them
// round-trip: a weight slot's shape in brackets (`[]` for a scalar), each
// pool as its !dg.kv_cache type.
// CHECK: module attributes {dg.kv_cache_pools = {kv_cache_full = !dg.kv_cache<full, layers = 1, kv_heads = 2, head_dim = 8, window = 0, bf16>}
// CHECK-SAME: dg.weight_bytes = 128 : i64
// CHECK-SAME: dg.weight_table = [#dg.weight_slot<name = "norm", offset = 0, shape = [16], type = f32>, #dg.weight_slot<name = "scale", offset = 64, shape = [], type = bf16>]
module attributes {
  dg.kv_cache_pools = {kv_cache_full = !dg.kv_cache<full, layers = 1, kv_heads = 2, head_dim = 8, window = 0, bf16>},
  dg.weight_bytes = 128 : i64,
  dg.weight_table = [#dg.weight_slot<name = "norm", offset = 0, shape = [16], type = f32>,
                     #dg.weight_slot<name = "scale", offset = 64, shape = [], type = bf16>]} {
  // CHECK: func.func private @nest(%{{.*}}: index, %{{.*}}: index) attributes {dg.parallel_chunks}
  func.func private @nest(%begin: index, %end: index) attributes {dg.parallel_chunks} {
    return
  }
  // CHECK: func.func @decoder(%{{.*}}: memref<?xi8> {dg.name = "weights"}, %{{.*}}: memref<?xbf16> {dg.kv_cache, dg.name = "kv_cache_full"}, %{{.*}}: memref<?x?xi64> {dg.kv_cache_table, dg.name = "kv_cache_full.table"}) -> (memref<4xf32> {dg.device_only, dg.name = "logits"})
  func.func @decoder(%weights: memref<?xi8> {dg.name = "weights"},
                     %pool: memref<?xbf16> {dg.kv_cache, dg.name = "kv_cache_full"},
                     %table: memref<?x?xi64> {dg.kv_cache_table, dg.name = "kv_cache_full.table"})
      -> (memref<4xf32> {dg.device_only, dg.name = "logits"}) {
    %out = memref.alloc() : memref<4xf32>
    return %out : memref<4xf32>
  }
}
