// RUN: dgc-opt %s --dg-fuse-moe -split-input-file | FileCheck %s
// RUN: dgc-opt %s --dg-fuse-moe=report=true -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// The builder's MoE block becomes one dg.moe.
// CHECK-LABEL: func.func @fuses
// CHECK-SAME: (%[[R:.*]]: tensor<?x?x64xf32>, %[[X:.*]]: tensor<?x?x64xf32>, %[[S:.*]]: tensor<64xf32>, %[[P:.*]]: tensor<8x64xf32>, %[[E:.*]]: tensor<8xf32>, %[[GU:.*]]: tensor<8x64x64xf32>, %[[D:.*]]: tensor<8x64x32xf32>)
// CHECK-NEXT: %[[M:.*]] = dg.moe %[[R]], %[[X]], %[[S]], %[[P]], %[[E]], %[[GU]], %[[D]] {epsilon = 9.9999999999999995E-7 : f64, top_k = 2 : i64}
// CHECK-NEXT: return %[[M]]
// REPORT: remark: dg-fuse-moe: 1 fused, 0 left
func.func @fuses(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> (tensor<?x?x64xf32>) {
  %c = arith.constant dense<1.250000e-01> : tensor<f32>
  %z0 = dg.rms_norm %r {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>
  %z1 = dg.mul %z0, %scale : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %z2 = dg.mul %z1, %c : tensor<?x?x64xf32>, tensor<f32> -> tensor<?x?x64xf32>
  %logits = dg.matmul %z2, %proj {transpose_rhs} : tensor<?x?x64xf32>, tensor<8x64xf32> -> tensor<?x?x8xf32>
  %p = dg.softmax %logits {axis = 2 : i64} : tensor<?x?x8xf32>
  %v, %e = dg.top_k %p {k = 2 : i64} : tensor<?x?x8xf32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  %s = dg.reduce <sum> %v {axis = 2 : i64} : tensor<?x?x2xf32> -> tensor<?x?xf32>
  %s1 = dg.reshape %s : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %w0 = dg.div %v, %s1 : tensor<?x?x2xf32>, tensor<?x?x1xf32> -> tensor<?x?x2xf32>
  %g = dg.gather %pes[%e] : tensor<8xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>
  %w = dg.mul %w0, %g : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2xf32>
  %dense = dg.scatter %w, %e {size = 8 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x8xf32>
  %x1 = dg.reshape %x : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  %gu = dg.matmul %x1, %gate_up {transpose_rhs} : tensor<?x1x?x64xf32>, tensor<8x64x64xf32> -> tensor<?x8x?x64xf32>
  %ga = dg.slice %gu {axis = 3 : i64, start = 0 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %up = dg.slice %gu {axis = 3 : i64, start = 32 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %act = dg.gated_gelu %ga, %up : tensor<?x8x?x32xf32>
  %y = dg.matmul %act, %down {transpose_rhs} : tensor<?x8x?x32xf32>, tensor<8x64x32xf32> -> tensor<?x8x?x64xf32>
  %dt = dg.transpose %dense [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %dc = dg.reshape %dt : tensor<?x8x?xf32> -> tensor<?x8x?x1xf32>
  %prod = dg.mul %y, %dc : tensor<?x8x?x64xf32>, tensor<?x8x?x1xf32> -> tensor<?x8x?x64xf32>
  %out = dg.reduce <sum> %prod {axis = 1 : i64} : tensor<?x8x?x64xf32> -> tensor<?x?x64xf32>
  return %out : tensor<?x?x64xf32>
}

// -----

// Another router scale (not hidden^-0.5): left alone.
// CHECK-LABEL: func.func @other_scale
// CHECK-NOT: dg.moe
// CHECK: dg.scatter
// REPORT: remark: dg-fuse-moe: 0 fused, 1 left
func.func @other_scale(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> (tensor<?x?x64xf32>) {
  %c = arith.constant dense<2.500000e-01> : tensor<f32>
  %z0 = dg.rms_norm %r {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>
  %z1 = dg.mul %z0, %scale : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %z2 = dg.mul %z1, %c : tensor<?x?x64xf32>, tensor<f32> -> tensor<?x?x64xf32>
  %logits = dg.matmul %z2, %proj {transpose_rhs} : tensor<?x?x64xf32>, tensor<8x64xf32> -> tensor<?x?x8xf32>
  %p = dg.softmax %logits {axis = 2 : i64} : tensor<?x?x8xf32>
  %v, %e = dg.top_k %p {k = 2 : i64} : tensor<?x?x8xf32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  %s = dg.reduce <sum> %v {axis = 2 : i64} : tensor<?x?x2xf32> -> tensor<?x?xf32>
  %s1 = dg.reshape %s : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %w0 = dg.div %v, %s1 : tensor<?x?x2xf32>, tensor<?x?x1xf32> -> tensor<?x?x2xf32>
  %g = dg.gather %pes[%e] : tensor<8xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>
  %w = dg.mul %w0, %g : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2xf32>
  %dense = dg.scatter %w, %e {size = 8 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x8xf32>
  %x1 = dg.reshape %x : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  %gu = dg.matmul %x1, %gate_up {transpose_rhs} : tensor<?x1x?x64xf32>, tensor<8x64x64xf32> -> tensor<?x8x?x64xf32>
  %ga = dg.slice %gu {axis = 3 : i64, start = 0 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %up = dg.slice %gu {axis = 3 : i64, start = 32 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %act = dg.gated_gelu %ga, %up : tensor<?x8x?x32xf32>
  %y = dg.matmul %act, %down {transpose_rhs} : tensor<?x8x?x32xf32>, tensor<8x64x32xf32> -> tensor<?x8x?x64xf32>
  %dt = dg.transpose %dense [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %dc = dg.reshape %dt : tensor<?x8x?xf32> -> tensor<?x8x?x1xf32>
  %prod = dg.mul %y, %dc : tensor<?x8x?x64xf32>, tensor<?x8x?x1xf32> -> tensor<?x8x?x64xf32>
  %out = dg.reduce <sum> %prod {axis = 1 : i64} : tensor<?x8x?x64xf32> -> tensor<?x?x64xf32>
  return %out : tensor<?x?x64xf32>
}

// -----

// A softmax over the tokens instead of the experts: left alone.
// CHECK-LABEL: func.func @softmax_over_tokens
// CHECK-NOT: dg.moe
// REPORT: remark: dg-fuse-moe: 0 fused, 1 left
func.func @softmax_over_tokens(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> (tensor<?x?x64xf32>) {
  %c = arith.constant dense<1.250000e-01> : tensor<f32>
  %z0 = dg.rms_norm %r {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>
  %z1 = dg.mul %z0, %scale : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %z2 = dg.mul %z1, %c : tensor<?x?x64xf32>, tensor<f32> -> tensor<?x?x64xf32>
  %logits = dg.matmul %z2, %proj {transpose_rhs} : tensor<?x?x64xf32>, tensor<8x64xf32> -> tensor<?x?x8xf32>
  %p = dg.softmax %logits {axis = 1 : i64} : tensor<?x?x8xf32>
  %v, %e = dg.top_k %p {k = 2 : i64} : tensor<?x?x8xf32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  %s = dg.reduce <sum> %v {axis = 2 : i64} : tensor<?x?x2xf32> -> tensor<?x?xf32>
  %s1 = dg.reshape %s : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %w0 = dg.div %v, %s1 : tensor<?x?x2xf32>, tensor<?x?x1xf32> -> tensor<?x?x2xf32>
  %g = dg.gather %pes[%e] : tensor<8xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>
  %w = dg.mul %w0, %g : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2xf32>
  %dense = dg.scatter %w, %e {size = 8 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x8xf32>
  %x1 = dg.reshape %x : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  %gu = dg.matmul %x1, %gate_up {transpose_rhs} : tensor<?x1x?x64xf32>, tensor<8x64x64xf32> -> tensor<?x8x?x64xf32>
  %ga = dg.slice %gu {axis = 3 : i64, start = 0 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %up = dg.slice %gu {axis = 3 : i64, start = 32 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %act = dg.gated_gelu %ga, %up : tensor<?x8x?x32xf32>
  %y = dg.matmul %act, %down {transpose_rhs} : tensor<?x8x?x32xf32>, tensor<8x64x32xf32> -> tensor<?x8x?x64xf32>
  %dt = dg.transpose %dense [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %dc = dg.reshape %dt : tensor<?x8x?xf32> -> tensor<?x8x?x1xf32>
  %prod = dg.mul %y, %dc : tensor<?x8x?x64xf32>, tensor<?x8x?x1xf32> -> tensor<?x8x?x64xf32>
  %out = dg.reduce <sum> %prod {axis = 1 : i64} : tensor<?x8x?x64xf32> -> tensor<?x?x64xf32>
  return %out : tensor<?x?x64xf32>
}

// -----

// Router probabilities with another user: left alone.
// CHECK-LABEL: func.func @probabilities_escape
// CHECK-NOT: dg.moe
// REPORT: remark: dg-fuse-moe: 0 fused, 1 left
func.func @probabilities_escape(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x8xf32>) {
  %c = arith.constant dense<1.250000e-01> : tensor<f32>
  %z0 = dg.rms_norm %r {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>
  %z1 = dg.mul %z0, %scale : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %z2 = dg.mul %z1, %c : tensor<?x?x64xf32>, tensor<f32> -> tensor<?x?x64xf32>
  %logits = dg.matmul %z2, %proj {transpose_rhs} : tensor<?x?x64xf32>, tensor<8x64xf32> -> tensor<?x?x8xf32>
  %p = dg.softmax %logits {axis = 2 : i64} : tensor<?x?x8xf32>
  %v, %e = dg.top_k %p {k = 2 : i64} : tensor<?x?x8xf32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  %s = dg.reduce <sum> %v {axis = 2 : i64} : tensor<?x?x2xf32> -> tensor<?x?xf32>
  %s1 = dg.reshape %s : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %w0 = dg.div %v, %s1 : tensor<?x?x2xf32>, tensor<?x?x1xf32> -> tensor<?x?x2xf32>
  %g = dg.gather %pes[%e] : tensor<8xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>
  %w = dg.mul %w0, %g : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2xf32>
  %dense = dg.scatter %w, %e {size = 8 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x8xf32>
  %x1 = dg.reshape %x : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  %gu = dg.matmul %x1, %gate_up {transpose_rhs} : tensor<?x1x?x64xf32>, tensor<8x64x64xf32> -> tensor<?x8x?x64xf32>
  %ga = dg.slice %gu {axis = 3 : i64, start = 0 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %up = dg.slice %gu {axis = 3 : i64, start = 32 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %act = dg.gated_gelu %ga, %up : tensor<?x8x?x32xf32>
  %y = dg.matmul %act, %down {transpose_rhs} : tensor<?x8x?x32xf32>, tensor<8x64x32xf32> -> tensor<?x8x?x64xf32>
  %dt = dg.transpose %dense [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %dc = dg.reshape %dt : tensor<?x8x?xf32> -> tensor<?x8x?x1xf32>
  %prod = dg.mul %y, %dc : tensor<?x8x?x64xf32>, tensor<?x8x?x1xf32> -> tensor<?x8x?x64xf32>
  %out = dg.reduce <sum> %prod {axis = 1 : i64} : tensor<?x8x?x64xf32> -> tensor<?x?x64xf32>
  return %out, %p : tensor<?x?x64xf32>, tensor<?x?x8xf32>
}

// -----

// Top-k weights that are not renormalised: left alone.
// CHECK-LABEL: func.func @not_renormalised
// CHECK-NOT: dg.moe
// REPORT: remark: dg-fuse-moe: 0 fused, 1 left
func.func @not_renormalised(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> (tensor<?x?x64xf32>) {
  %c = arith.constant dense<1.250000e-01> : tensor<f32>
  %z0 = dg.rms_norm %r {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>
  %z1 = dg.mul %z0, %scale : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %z2 = dg.mul %z1, %c : tensor<?x?x64xf32>, tensor<f32> -> tensor<?x?x64xf32>
  %logits = dg.matmul %z2, %proj {transpose_rhs} : tensor<?x?x64xf32>, tensor<8x64xf32> -> tensor<?x?x8xf32>
  %p = dg.softmax %logits {axis = 2 : i64} : tensor<?x?x8xf32>
  %v, %e = dg.top_k %p {k = 2 : i64} : tensor<?x?x8xf32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  %s = dg.reduce <sum> %v {axis = 2 : i64} : tensor<?x?x2xf32> -> tensor<?x?xf32>
  %s1 = dg.reshape %s : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %w0 = dg.div %v, %s1 : tensor<?x?x2xf32>, tensor<?x?x1xf32> -> tensor<?x?x2xf32>
  %g = dg.gather %pes[%e] : tensor<8xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>
  %w = dg.mul %v, %g : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2xf32>
  %dense = dg.scatter %w, %e {size = 8 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x8xf32>
  %x1 = dg.reshape %x : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  %gu = dg.matmul %x1, %gate_up {transpose_rhs} : tensor<?x1x?x64xf32>, tensor<8x64x64xf32> -> tensor<?x8x?x64xf32>
  %ga = dg.slice %gu {axis = 3 : i64, start = 0 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %up = dg.slice %gu {axis = 3 : i64, start = 32 : i64, size = 32 : i64} : tensor<?x8x?x64xf32> -> tensor<?x8x?x32xf32>
  %act = dg.gated_gelu %ga, %up : tensor<?x8x?x32xf32>
  %y = dg.matmul %act, %down {transpose_rhs} : tensor<?x8x?x32xf32>, tensor<8x64x32xf32> -> tensor<?x8x?x64xf32>
  %dt = dg.transpose %dense [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %dc = dg.reshape %dt : tensor<?x8x?xf32> -> tensor<?x8x?x1xf32>
  %prod = dg.mul %y, %dc : tensor<?x8x?x64xf32>, tensor<?x8x?x1xf32> -> tensor<?x8x?x64xf32>
  %out = dg.reduce <sum> %prod {axis = 1 : i64} : tensor<?x8x?x64xf32> -> tensor<?x?x64xf32>
  return %out : tensor<?x?x64xf32>
}

