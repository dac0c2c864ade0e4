// RUN: dgc-opt %s | FileCheck %s
// RUN: dgc-opt %s | dgc-opt | FileCheck %s
// RUN: dgc-opt %s --mlir-print-op-generic | dgc-opt | FileCheck %s
// Every dg contract on an op it describes, and the model's facts, printed
// and parsed back.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#rows = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#tile = affine_map<(d0, d1, d2, d3) -> (d0)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// CHECK: module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, max_positions = 64, tokens = <pad = 0, eos = [1, 2]>, generation = {t_min = 4.000000e-01 : f64}, vision = <patch_size = 4, pooling_kernel = 3, soft_tokens = 70>, source_config = {canvas_length = "4"}>}
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16, max_positions = 64, tokens = <pad = 0, eos = [1, 2]>, generation = {t_min = 0.4 : f64}, vision = <patch_size = 4, pooling_kernel = 3, soft_tokens = 70>, source_config = {canvas_length = "4"}>} {

// CHECK-LABEL: func.func @picks
// CHECK: attrs = {dg.contract = #dg.best_of_rows}
// CHECK: attrs = {dg.contract = #dg.row_statistics}
func.func @picks(%x: memref<4x8xf32>, %v: memref<4xf32>, %i: memref<4xi32>, %s: memref<4xf32>, %u: memref<4xf32>) {
  linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%v, %i : memref<4xf32>, memref<4xi32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %best: f32, %index: i32):
    linalg.yield %in, %index : f32, i32
  }
  linalg.generic {indexing_maps = [#id, #row, #row, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%v, %s, %u, %i : memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %m: f32, %e: f32, %p: f32, %index: i32):
    linalg.yield %m, %e, %p, %index : f32, f32, f32, i32
  }
  return
}

// CHECK-LABEL: func.func @column_groups
// CHECK: attrs = {dg.contract = #dg.column_group_max<group = 64>}
func.func @column_groups(%x: tensor<?x16x8x64xbf16>, %init: tensor<?x16x8xbf16>) -> tensor<?x16x8xbf16> {
  %m = linalg.generic {indexing_maps = [#id4, #row4], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x : tensor<?x16x8x64xbf16>) outs(%init : tensor<?x16x8xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 64>} {
  ^bb0(%in: bf16, %out: bf16):
    %0 = arith.maximumf %in, %out : bf16
    linalg.yield %0 : bf16
  } -> tensor<?x16x8xbf16>
  return %m : tensor<?x16x8xbf16>
}

// CHECK-LABEL: func.func @grouped
// CHECK: attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>}
func.func @grouped(%rows: memref<?x16x64xbf16>, %experts: memref<?xi32>, %out: memref<?x16x96xf32>) {
  linalg.generic {indexing_maps = [#rows, #tile, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%rows, %experts : memref<?x16x64xbf16>, memref<?xi32>) outs(%out : memref<?x16x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%r: bf16, %e: i32, %o: f32):
    linalg.yield %o : f32
  }
  return
}

// CHECK-LABEL: func.func @top_k
// CHECK: } {dg.contract = #dg.top_k_loop<k = 2>}
func.func @top_k() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %j = %c0 to %c2 step %c1 {
  } {dg.contract = #dg.top_k_loop<k = 2>}
  return
}

}
