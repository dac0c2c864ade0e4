// RUN: dgc-opt %s --dg-fuse-sampling -split-input-file | FileCheck %s
// RUN: dgc-opt %s --dg-fuse-sampling=report=true -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// The decoder's head: one dg.sample with the softcap and the top-k.
// CHECK-LABEL: func.func @fuses
// CHECK-SAME: (%[[H:.*]]: tensor<?x16x64xf32>, %[[E:.*]]: tensor<512x64xf32>, %[[T:.*]]: tensor<?xf32>)
// CHECK-NOT: dg.softmax
// CHECK: %[[L:.*]], %[[A:.*]], %[[P:.*]], %[[I:.*]], %[[N:.*]] = dg.sample %[[H]], %[[E]], %[[T]] {softcap = 3.000000e+01 : f64, top_k = 64 : i64}
// CHECK-NOT: dg.softmax
// CHECK: return %[[L]], %[[A]], %[[P]], %[[I]], %[[N]]
// REPORT: remark: dg-fuse-sampling: 1 fused, 0 left
func.func @fuses(%h: tensor<?x16x64xf32>, %e: tensor<512x64xf32>, %temp: tensor<?xf32>) -> (tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>) {
  %cap = arith.constant dense<3.000000e+01> : tensor<f32>
  %l = dg.matmul %h, %e {transpose_rhs} : tensor<?x16x64xf32>, tensor<512x64xf32> -> tensor<?x16x512xf32>
  %l1 = dg.div %l, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %l2 = dg.tanh %l1 : tensor<?x16x512xf32>
  %l3 = dg.mul %l2, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %t = dg.reshape %temp : tensor<?xf32> -> tensor<?x1x1xf32>
  %x = dg.div %l3, %t : tensor<?x16x512xf32>, tensor<?x1x1xf32> -> tensor<?x16x512xf32>
  %p = dg.softmax %x {axis = 2 : i64} : tensor<?x16x512xf32>
  %px = dg.mul %p, %x : tensor<?x16x512xf32>, tensor<?x16x512xf32> -> tensor<?x16x512xf32>
  %s = dg.reduce <sum> %px {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %lse = dg.reduce <logsumexp> %x {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %ent = dg.sub %lse, %s : tensor<?x16xf32>, tensor<?x16xf32> -> tensor<?x16xf32>
  %v, %i = dg.top_k %p {k = 64 : i64} : tensor<?x16x512xf32> -> tensor<?x16x64xf32>, tensor<?x16x64xi32>
  %xo = dg.cast %x : tensor<?x16x512xf32> -> tensor<?x16x512xbf16>
  %a = dg.argmax %x : tensor<?x16x512xf32> -> tensor<?x16xi32>
  return %xo, %a, %v, %i, %ent : tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>
}

// -----

// A cap on one side only (30 in, 20 out) is not a softcap: left alone.
// CHECK-LABEL: func.func @uneven_cap
// CHECK-NOT: dg.sample
// REPORT: remark: dg-fuse-sampling: 0 fused, 1 left
func.func @uneven_cap(%h: tensor<?x16x64xf32>, %e: tensor<512x64xf32>, %temp: tensor<?xf32>) -> (tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>) {
  %cap = arith.constant dense<3.000000e+01> : tensor<f32>
  %l = dg.matmul %h, %e {transpose_rhs} : tensor<?x16x64xf32>, tensor<512x64xf32> -> tensor<?x16x512xf32>
  %l1 = dg.div %l, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %l2 = dg.tanh %l1 : tensor<?x16x512xf32>
  %c20 = arith.constant dense<2.000000e+01> : tensor<f32>
  %l3 = dg.mul %l2, %c20 : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %t = dg.reshape %temp : tensor<?xf32> -> tensor<?x1x1xf32>
  %x = dg.div %l3, %t : tensor<?x16x512xf32>, tensor<?x1x1xf32> -> tensor<?x16x512xf32>
  %p = dg.softmax %x {axis = 2 : i64} : tensor<?x16x512xf32>
  %px = dg.mul %p, %x : tensor<?x16x512xf32>, tensor<?x16x512xf32> -> tensor<?x16x512xf32>
  %s = dg.reduce <sum> %px {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %lse = dg.reduce <logsumexp> %x {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %ent = dg.sub %lse, %s : tensor<?x16xf32>, tensor<?x16xf32> -> tensor<?x16xf32>
  %v, %i = dg.top_k %p {k = 64 : i64} : tensor<?x16x512xf32> -> tensor<?x16x64xf32>, tensor<?x16x64xi32>
  %xo = dg.cast %x : tensor<?x16x512xf32> -> tensor<?x16x512xbf16>
  %a = dg.argmax %x : tensor<?x16x512xf32> -> tensor<?x16xi32>
  return %xo, %a, %v, %i, %ent : tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>
}

// -----

// Probabilities used outside the head: left alone.
// CHECK-LABEL: func.func @probabilities_escape
// CHECK-NOT: dg.sample
// REPORT: remark: dg-fuse-sampling: 0 fused, 1 left
func.func @probabilities_escape(%h: tensor<?x16x64xf32>, %e: tensor<512x64xf32>, %temp: tensor<?xf32>) -> (tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>, tensor<?x16x512xf32>) {
  %cap = arith.constant dense<3.000000e+01> : tensor<f32>
  %l = dg.matmul %h, %e {transpose_rhs} : tensor<?x16x64xf32>, tensor<512x64xf32> -> tensor<?x16x512xf32>
  %l1 = dg.div %l, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %l2 = dg.tanh %l1 : tensor<?x16x512xf32>
  %l3 = dg.mul %l2, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %t = dg.reshape %temp : tensor<?xf32> -> tensor<?x1x1xf32>
  %x = dg.div %l3, %t : tensor<?x16x512xf32>, tensor<?x1x1xf32> -> tensor<?x16x512xf32>
  %p = dg.softmax %x {axis = 2 : i64} : tensor<?x16x512xf32>
  %px = dg.mul %p, %x : tensor<?x16x512xf32>, tensor<?x16x512xf32> -> tensor<?x16x512xf32>
  %s = dg.reduce <sum> %px {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %lse = dg.reduce <logsumexp> %x {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %ent = dg.sub %lse, %s : tensor<?x16xf32>, tensor<?x16xf32> -> tensor<?x16xf32>
  %v, %i = dg.top_k %p {k = 64 : i64} : tensor<?x16x512xf32> -> tensor<?x16x64xf32>, tensor<?x16x64xi32>
  %xo = dg.cast %x : tensor<?x16x512xf32> -> tensor<?x16x512xbf16>
  %a = dg.argmax %x : tensor<?x16x512xf32> -> tensor<?x16xi32>
  return %xo, %a, %v, %i, %ent, %p : tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>, tensor<?x16x512xf32>
}

// -----

// Statistics over another axis: left alone.
// CHECK-LABEL: func.func @other_axis
// CHECK-NOT: dg.sample
// REPORT: remark: dg-fuse-sampling: 0 fused, 1 left
func.func @other_axis(%h: tensor<?x16x64xf32>, %e: tensor<512x64xf32>, %temp: tensor<?xf32>) -> (tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>) {
  %cap = arith.constant dense<3.000000e+01> : tensor<f32>
  %l = dg.matmul %h, %e {transpose_rhs} : tensor<?x16x64xf32>, tensor<512x64xf32> -> tensor<?x16x512xf32>
  %l1 = dg.div %l, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %l2 = dg.tanh %l1 : tensor<?x16x512xf32>
  %l3 = dg.mul %l2, %cap : tensor<?x16x512xf32>, tensor<f32> -> tensor<?x16x512xf32>
  %t = dg.reshape %temp : tensor<?xf32> -> tensor<?x1x1xf32>
  %x = dg.div %l3, %t : tensor<?x16x512xf32>, tensor<?x1x1xf32> -> tensor<?x16x512xf32>
  %p = dg.softmax %x {axis = 2 : i64} : tensor<?x16x512xf32>
  %px = dg.mul %p, %x : tensor<?x16x512xf32>, tensor<?x16x512xf32> -> tensor<?x16x512xf32>
  %s = dg.reduce <sum> %px {axis = 2 : i64} : tensor<?x16x512xf32> -> tensor<?x16xf32>
  %lse0 = dg.reduce <logsumexp> %x {axis = 1 : i64} : tensor<?x16x512xf32> -> tensor<?x512xf32>
  %lse = dg.slice %lse0 {axis = 1 : i64, start = 0 : i64, size = 16 : i64} : tensor<?x512xf32> -> tensor<?x16xf32>
  %ent = dg.sub %lse, %s : tensor<?x16xf32>, tensor<?x16xf32> -> tensor<?x16xf32>
  %v, %i = dg.top_k %p {k = 64 : i64} : tensor<?x16x512xf32> -> tensor<?x16x64xf32>, tensor<?x16x64xi32>
  %xo = dg.cast %x : tensor<?x16x512xf32> -> tensor<?x16x512xbf16>
  %a = dg.argmax %x : tensor<?x16x512xf32> -> tensor<?x16xi32>
  return %xo, %a, %v, %i, %ent : tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>
}

// -----

// The self-conditioning embedding: softmax in f32, rounded, @ E, scaled.
// CHECK-LABEL: func.func @soft_embedding
// CHECK-SAME: (%[[X:.*]]: tensor<?x16x512xbf16>, %[[E:.*]]: tensor<512x64xbf16>)
// CHECK-NEXT: %[[S:.*]] = dg.soft_embedding %[[X]], %[[E]] {scale = 8.000000e+00 : f64}
// CHECK-NEXT: return %[[S]]
// REPORT: 1 soft embeddings fused
func.func @soft_embedding(%x: tensor<?x16x512xbf16>, %e: tensor<512x64xbf16>) -> tensor<?x16x64xbf16> {
  %s8 = arith.constant dense<8.000000e+00> : tensor<bf16>
  %w = dg.cast %x : tensor<?x16x512xbf16> -> tensor<?x16x512xf32>
  %p = dg.softmax %w {axis = 2 : i64} : tensor<?x16x512xf32>
  %pr = dg.cast %p : tensor<?x16x512xf32> -> tensor<?x16x512xbf16>
  %m = dg.matmul %pr, %e : tensor<?x16x512xbf16>, tensor<512x64xbf16> -> tensor<?x16x64xbf16>
  %s = dg.mul %m, %s8 : tensor<?x16x64xbf16>, tensor<bf16> -> tensor<?x16x64xbf16>
  return %s : tensor<?x16x64xbf16>
}

// -----

// A softmax over the positions, not the vocabulary: left alone.
// CHECK-LABEL: func.func @soft_embedding_other_axis
// CHECK-NOT: dg.soft_embedding
// REPORT: 0 soft embeddings fused
func.func @soft_embedding_other_axis(%x: tensor<?x512x512xf32>, %e: tensor<512x64xf32>) -> tensor<?x512x64xf32> {
  %s8 = arith.constant dense<8.000000e+00> : tensor<f32>
  %p = dg.softmax %x {axis = 1 : i64} : tensor<?x512x512xf32>
  %m = dg.matmul %p, %e : tensor<?x512x512xf32>, tensor<512x64xf32> -> tensor<?x512x64xf32>
  %s = dg.mul %m, %s8 : tensor<?x512x64xf32>, tensor<f32> -> tensor<?x512x64xf32>
  return %s : tensor<?x512x64xf32>
}
