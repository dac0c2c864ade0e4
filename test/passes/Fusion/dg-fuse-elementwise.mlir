// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-fuse-elementwise))" --split-input-file | FileCheck %s

// A softcap and a temperature (divide, tanh, multiply, divide): one generic
// whose body does all four.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @softcap_chain
// CHECK: linalg.generic
// CHECK:   arith.divf
// CHECK:   math.tanh
// CHECK:   arith.mulf
// CHECK:   arith.divf
// CHECK:   linalg.yield
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @softcap_chain(%x: tensor<4x8xf32>, %t: tensor<4xf32>) -> tensor<4x8xf32> {
  %cap = arith.constant 30.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.divf %in, %cap : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.tanh %in : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %c = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.mulf %in, %cap : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %d = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%c, %t : tensor<4x8xf32>, tensor<4xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %temp: f32, %out: f32):
    %0 = arith.divf %in, %temp : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  return %d : tensor<4x8xf32>
}

// -----

// Left alone: a producer with a second reader (it would be computed twice)
// and a reduction consumer (a norm's sum of squares).
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @left_alone
// CHECK: math.exp
// CHECK: linalg.generic
// CHECK: arith.mulf
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK-NOT: linalg.generic
func.func @left_alone(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %zero = arith.constant 0.0 : f32
  %r = tensor.empty() : tensor<4xf32>
  %sq = linalg.fill ins(%zero : f32) outs(%r : tensor<4xf32>) -> tensor<4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.exp %in : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.mulf %in, %in : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %s = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%b : tensor<4x8xf32>) outs(%sq : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  } -> tensor<4xf32>
  return %a, %b, %s : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>
}

// -----

// Only a dg contract keeps a generic whole: the exp read by a best-of-rows
// stays (that generic is also a reduction), while a generic with another
// attribute fuses as any other.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @contracts
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} attrs = {dg.contract = #dg.best_of_rows}
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK-NEXT: arith.negf
// CHECK-NOT: linalg.generic
func.func @contracts(%x: tensor<4x8xf32>) -> (tensor<4xf32>, tensor<4xi32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %max = arith.constant 2147483647 : i32
  %rv = tensor.empty() : tensor<4xf32>
  %ri = tensor.empty() : tensor<4xi32>
  %v0 = linalg.fill ins(%ninf : f32) outs(%rv : tensor<4xf32>) -> tensor<4xf32>
  %i0 = linalg.fill ins(%max : i32) outs(%ri : tensor<4xi32>) -> tensor<4xi32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.exp %in : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %v, %i = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<4x8xf32>) outs(%v0, %i0 : tensor<4xf32>, tensor<4xi32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: f32, %best: f32, %index: i32):
    %0 = arith.maximumf %in, %best : f32
    linalg.yield %0, %index : f32, i32
  } -> (tensor<4xf32>, tensor<4xi32>)
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) attrs = {note = "not a contract"} {
  ^bb0(%in: f32, %out: f32):
    %0 = math.exp %in : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%m : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.negf %in : f32
    linalg.yield %0 : f32
  } -> tensor<4x8xf32>
  return %v, %i, %n : tensor<4xf32>, tensor<4xi32>, tensor<4x8xf32>
}
