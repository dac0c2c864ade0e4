// RUN: dgc-opt %s -split-input-file -verify-diagnostics
// One case per diagnostic of the dg contracts and the model's facts: a
// contract on an op it does not describe, or with parameters the op
// contradicts.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @best_of_rows_elementwise(%x: memref<4x8xf32>, %y: memref<4x8xf32>, %j: memref<4x8xi32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.best_of_rows, which needs a reduction over the last loop only}}
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : memref<4x8xf32>) outs(%y, %j : memref<4x8xf32>, memref<4x8xi32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %out: f32, %idx: i32):
    linalg.yield %in, %idx : f32, i32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @best_of_rows_one_output(%x: memref<4x8xf32>, %v: memref<4xf32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.best_of_rows, which needs 2 output(s), got 1}}
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%v : memref<4xf32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @best_of_rows_float_index(%x: memref<4x8xf32>, %v: memref<4xf32>, %i: memref<4xf32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.best_of_rows, whose last output is an i32 index, got 'memref<4xf32>'}}
  linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%v, %i : memref<4xf32>, memref<4xf32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %out: f32, %idx: f32):
    linalg.yield %in, %idx : f32, f32
  }
  return
}

// -----

func.func @best_of_rows_on_a_loop() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'scf.for' op carries #dg.best_of_rows, which belongs on a linalg.generic}}
  scf.for %j = %c0 to %c1 step %c1 {
  } {dg.contract = #dg.best_of_rows}
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_statistics_two_outputs(%x: memref<4x8xf32>, %v: memref<4xf32>, %i: memref<4xi32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.row_statistics, which needs 4 output(s), got 2}}
  linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%v, %i : memref<4xf32>, memref<4xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %out: f32, %idx: i32):
    linalg.yield %in, %idx : f32, i32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_statistics_integer_max(%x: memref<4x8xf32>, %m: memref<4xi32>, %s: memref<4xf32>, %i: memref<4xi32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.row_statistics, whose outputs but the last are floats, got 'memref<4xi32>'}}
  linalg.generic {indexing_maps = [#id, #row, #row, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%m, %s, %s, %i : memref<4xi32>, memref<4xf32>, memref<4xf32>, memref<4xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %a: i32, %b: f32, %c: f32, %d: i32):
    linalg.yield %a, %b, %c, %d : i32, f32, f32, i32
  }
  return
}

// -----

// expected-error @+1 {{#dg.column_group_max needs groups of at least 2 columns, got 1}}
func.func private @column_group_of_one() attributes {test.contract = #dg.column_group_max<group = 1>}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @column_group_width(%x: memref<?x16x8x64xbf16>, %g: memref<?x16x8xbf16>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.column_group_max<group = 32>, but its input's groups have 64 columns}}
  linalg.generic {indexing_maps = [#id4, #row4], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x : memref<?x16x8x64xbf16>) outs(%g : memref<?x16x8xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 32>} {
  ^bb0(%in: bf16, %out: bf16):
    %0 = arith.maximumf %in, %out : bf16
    linalg.yield %0 : bf16
  }
  return
}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @column_group_two_inputs(%x: memref<?x16x8x64xbf16>, %g: memref<?x16x8xbf16>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.column_group_max, which needs 1 input(s) and 1 output(s), got 2 and 1}}
  linalg.generic {indexing_maps = [#id4, #id4, #row4], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %x : memref<?x16x8x64xbf16>, memref<?x16x8x64xbf16>) outs(%g : memref<?x16x8xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 64>} {
  ^bb0(%in: bf16, %in2: bf16, %out: bf16):
    %0 = arith.maximumf %in, %out : bf16
    linalg.yield %0 : bf16
  }
  return
}

// -----

#rows = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#tile = affine_map<(d0, d1, d2, d3) -> (d0)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @grouped_tile_rows(%rows: memref<?x8x64xbf16>, %experts: memref<?xi32>, %out: memref<?x8x96xf32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.grouped_by_expert<group_rows = 16>, but its tiles have 8 rows}}
  linalg.generic {indexing_maps = [#rows, #tile, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%rows, %experts : memref<?x8x64xbf16>, memref<?xi32>) outs(%out : memref<?x8x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%r: bf16, %e: i32, %o: f32):
    linalg.yield %o : f32
  }
  return
}

// -----

#rows = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @grouped_without_experts(%rows: memref<?x16x64xbf16>, %out: memref<?x16x96xf32>) {
  // expected-error @+1 {{'linalg.generic' op carries #dg.grouped_by_expert, which needs 2 inputs (rows, tile experts) and 1 output, got 1 and 1}}
  linalg.generic {indexing_maps = [#rows, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%rows : memref<?x16x64xbf16>) outs(%out : memref<?x16x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%r: bf16, %o: f32):
    linalg.yield %o : f32
  }
  return
}

// -----

// expected-error @+1 {{#dg.grouped_by_expert needs at least one row per tile, got 0}}
func.func private @grouped_no_rows() attributes {test.contract = #dg.grouped_by_expert<group_rows = 0>}

// -----

// expected-error @+1 {{#dg.top_k_loop needs k >= 1, got 0}}
func.func private @top_k_of_none() attributes {test.contract = #dg.top_k_loop<k = 0>}

// -----

func.func @top_k_steps() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  // expected-error @+1 {{'scf.for' op carries #dg.top_k_loop<k = 2>, but runs 3 steps}}
  scf.for %j = %c0 to %c3 step %c1 {
  } {dg.contract = #dg.top_k_loop<k = 2>}
  return
}

// -----

// expected-error @+1 {{'func.func' op carries #dg.top_k_loop, which belongs on an scf.for}}
func.func @top_k_on_a_function() attributes {dg.contract = #dg.top_k_loop<k = 2>} {
  return
}

// -----

// expected-error @+1 {{'func.func' op 'dg.contract' holds a dg contract attribute, got "best_of_rows"}}
func.func @contract_as_string() attributes {dg.contract = "best_of_rows"} {
  return
}

// -----

// expected-error @+1 {{'func.func' op holds a dg contract under 'dg.top_k', which passes look for under 'dg.contract'}}
func.func @contract_misnamed() attributes {dg.top_k = #dg.top_k_loop<k = 2>} {
  return
}

// -----

// The model's facts.

// expected-error @+1 {{'builtin.module' op 'dg.model' holds a #dg.model attribute, got "diffusion_gemma"}}
module attributes {dg.model = "diffusion_gemma"} {
}

// -----

// expected-error @+1 {{'func.func' op 'dg.model' belongs on a builtin.module}}
func.func @model_on_a_function() attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16>} {
  return
}

// -----

// expected-error @+1 {{#dg.model's canvas_length is positive, got 0}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 0, vocab_size = 8, hidden_size = 16>} {
}

// -----

// expected-error @+1 {{#dg.model's dtype is a float type, got 'i32'}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = i32, canvas_length = 4, vocab_size = 8, hidden_size = 16>} {
}

// -----

// expected-error @+2 {{#dg.tokens' pad is an id >= 0, got -1}}
// expected-error @+1 {{failed to parse Dg_ModelAttr parameter 'tokens'}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, tokens = <pad = -1>>} {
}

// -----

// expected-error @+2 {{#dg.tokens' eos are ids >= 0}}
// expected-error @+1 {{failed to parse Dg_ModelAttr parameter 'tokens'}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, tokens = <eos = [1, -2]>>} {
}

// -----

// expected-error @+2 {{#dg.vision's pooling_kernel is positive, got 0}}
// expected-error @+1 {{failed to parse Dg_ModelAttr parameter 'vision'}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, vision = <patch_size = 4, pooling_kernel = 0, soft_tokens = 70>>} {
}

// -----

// expected-error @+1 {{#dg.model's generation.t_min is a number, a string or an i64 array, got unit}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, generation = {t_min}>} {
}

// -----

// expected-error @+1 {{#dg.model's source_config.canvas_length is JSON text, got 4 : i64}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, source_config = {canvas_length = 4 : i64}>} {
}

// -----

// expected-error @+1 {{struct is missing required parameter: hidden_size}}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8>} {
}
