// RUN: dgc-opt %s -split-input-file -verify-diagnostics
// One case per diagnostic of the runtime ABI's attributes (DgRuntimeAbi.cpp).

// expected-error @+1 {{'builtin.module' op 'dg.weight_table' is an array of #dg.weight_slot, got [{name = "a", offset = 0 : i64}]}}
module attributes {dg.weight_table = [{name = "a", offset = 0 : i64}]} {
}

// -----

// expected-error @+1 {{#dg.weight_slot 'a' has a negative offset -64}}
module attributes {dg.weight_table = [#dg.weight_slot<name = "a", offset = -64, shape = [2], type = f32>]} {
}

// -----

// expected-error @+1 {{#dg.weight_slot 'a' has a dimension below 0}}
module attributes {dg.weight_table = [#dg.weight_slot<name = "a", offset = 0, shape = [2, -1], type = f32>]} {
}

// -----

// expected-error @+1 {{#dg.weight_slot needs the weight's name}}
module attributes {dg.weight_table = [#dg.weight_slot<name = "", offset = 0, shape = [2], type = f32>]} {
}

// -----

// expected-error @+1 {{#dg.weight_slot 'a' holds integers or floats, got 'index'}}
module attributes {dg.weight_table = [#dg.weight_slot<name = "a", offset = 0, shape = [2], type = index>]} {
}

// -----

// expected-error @+1 {{'builtin.module' op 'dg.weight_bytes' is a byte count (i64, at least 0), got -1 : i64}}
module attributes {dg.weight_bytes = -1 : i64} {
}

// -----

// expected-error @+1 {{'func.func' op 'dg.weight_bytes' belongs on a module}}
func.func @bytes_on_a_function() attributes {dg.weight_bytes = 64 : i64} {
  return
}

// -----

// expected-error @+1 {{'builtin.module' op 'dg.kv_cache_pools': pool 'kv_cache_full' is a !dg.kv_cache type, got {kind = "full"}}}
module attributes {dg.kv_cache_pools = {kv_cache_full = {kind = "full"}}} {
}

// -----

// expected-error @+1 {{'builtin.module' op 'dg.kv_cache_pools' is a dictionary of pools, got [1, 2]}}
module attributes {dg.kv_cache_pools = [1, 2]} {
}

// -----

// expected-error @+1 {{'builtin.module' op 'dg.parallel_chunks' belongs on a function}}
module attributes {dg.parallel_chunks} {
}

// -----

// expected-error @+1 {{'func.func' op 'dg.parallel_chunks' is a unit attribute, got 2 : i64}}
func.func private @nest() attributes {dg.parallel_chunks = 2} {
  return
}

// -----

// expected-error @+1 {{'func.func' op 'dg.name' is a string, got 3 : i64}}
func.func @decoder(%weights: memref<?xi8> {dg.name = 3}) {
  return
}

// -----

// expected-error @+1 {{'func.func' op 'dg.kv_cache_table' marks an argument}}
func.func @decoder() -> (memref<?x?xi64> {dg.kv_cache_table}) {
  %t = memref.alloc() : memref<2x2xi64>
  %c = memref.cast %t : memref<2x2xi64> to memref<?x?xi64>
  return %c : memref<?x?xi64>
}

// -----

// expected-error @+1 {{'func.func' op 'dg.device_only' is a unit attribute, got "yes"}}
func.func @decoder(%x: memref<4xf32> {dg.device_only = "yes"}) {
  return
}
