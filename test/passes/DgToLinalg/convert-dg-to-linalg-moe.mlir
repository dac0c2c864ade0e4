// RUN: dgc-opt %s --convert-dg-to-linalg=moe-group-rows=16 | FileCheck %s
// RUN: dgc-opt %s --convert-dg-to-linalg | FileCheck %s --check-prefix=ONE
// RUN: not dgc-opt %s --convert-dg-to-linalg=moe-group-rows=0 2>&1 | FileCheck %s --check-prefix=BAD

// dg.moe as grouped GEMMs: the slots are counted and ranked per expert,
// gathered into expert-aligned tiles of 16 rows, and each expert's weights
// are read only by the two projections with the contract
// #dg.grouped_by_expert, never per slot.
// CHECK-LABEL: func.func @moe
// CHECK-NOT: dg.moe
// The count per expert, a reduction over every slot.
// CHECK: linalg.generic {{.*}}["parallel", "reduction", "reduction"]{{.*}} ins(%{{.*}} : tensor<?x2xi32>) outs(%{{.*}} : tensor<8xi32>)
// Each slot's rank among the earlier slots of its expert.
// CHECK: linalg.generic {{.*}}["parallel", "parallel", "reduction", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x2xi32>, tensor<?x2xi32>) outs(%{{.*}} : tensor<?x2xi32>)
// The token of every row of every tile, and the expert of every tile.
// CHECK: outs(%{{.*}} : tensor<?x16xi32>)
// CHECK: outs(%{{.*}} : tensor<?xi32>)
// CHECK-NOT: tensor.extract %{{.*}} : tensor<8x64x
// The rows, gathered by token.
// CHECK: outs(%{{.*}} : tensor<?x16x64xf32>)
// CHECK-NOT: tensor.extract %{{.*}} : tensor<8x64x
// CHECK: linalg.generic {{.*}}["parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x16x64xf32>, tensor<?xi32>) outs(%{{.*}} : tensor<?x16x64xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>}
// CHECK: arith.maxsi
// CHECK: tensor.extract %{{.*}} : tensor<8x64x64xf32>
// CHECK-NOT: tensor.extract %{{.*}} : tensor<8x64x
// CHECK: math.tanh
// CHECK-NOT: tensor.extract %{{.*}} : tensor<8x64x
// CHECK: ins(%{{.*}}, %{{.*}} : tensor<?x16x32xf32>, tensor<?xi32>) outs(%{{.*}} : tensor<?x16x64xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>}
// CHECK: tensor.extract %{{.*}} : tensor<8x64x32xf32>
// CHECK-NOT: tensor.extract %{{.*}} : tensor<8x64x
// The weighted combine: each token's two rows, back to [tokens, 64].
// CHECK: outs(%{{.*}} : tensor<?x64xf32>)
// CHECK-NOT: dg.
// CHECK: return

// With the default of one row per tile, every slot is its own tile.
// ONE-LABEL: func.func @moe
// ONE: outs(%{{.*}} : tensor<?x1x64xf32>)
// ONE: attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 1>}
// ONE: attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 1>}

// BAD: error: moe-group-rows must be at least 1, got 0
func.func @moe(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> tensor<?x?x64xf32> {
  %m = dg.moe %r, %x, %scale, %proj, %pes, %gate_up, %down {epsilon = 1.0e-06 : f64, top_k = 2 : i64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<8x64xf32>, tensor<8xf32>, tensor<8x64x64xf32>, tensor<8x64x32xf32> -> tensor<?x?x64xf32>
  return %m : tensor<?x?x64xf32>
}
