// RUN: dgc-opt %s --convert-dg-to-linalg -split-input-file | FileCheck %s
// RUN: dgc-opt %s --convert-dg-to-linalg=sample-candidates=0 -split-input-file | FileCheck %s --check-prefix=EXACT
// RUN: not dgc-opt %s --convert-dg-to-linalg=sample-candidates=-1 -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// The sampler's head with bf16 logits. By default the f32 logits live only
// as the head's product: the rounding and the one-pass row statistics
// (max, sum of exponentials, sum of exp * shifted value, argmax) each read
// that product and apply softcap and temperature themselves; the top-64 is
// taken among the 128 largest bf16 logits, whose f32 values are recomputed
// by a dot product with their ids' embeddings.
// CHECK-LABEL: func.func @sample
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<?xf32>) outs(%{{.*}} : tensor<?x16xf32>)
// CHECK: %[[RAW:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x16x64xbf16>, tensor<512x64xbf16>) outs(%{{.*}} : tensor<?x16x512xf32>)
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[RAW]], %[[T]] : tensor<?x16x512xf32>, tensor<?x16xf32>) outs(%{{.*}} : tensor<?x16x512xbf16>)
// CHECK: math.tanh
// CHECK: arith.truncf
// CHECK: %[[S:.*]]:4 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[RAW]], %[[T]] : tensor<?x16x512xf32>, tensor<?x16xf32>) outs({{.*}} : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xi32>) attrs = {dg.contract = #dg.row_statistics}
// CHECK: linalg.index 2
// CHECK: math.tanh
// CHECK: math.exp
// CHECK: math.exp
// CHECK: linalg.yield
// Nothing else reads the f32 product.
// CHECK-NOT: ins(%[[RAW]]
// The candidates: the max of each group of columns (2 here: the vocabulary
// holds 256 groups, twice the 128 chosen; marked, so that a GEMM whose
// tile is one group can take them), the 128 groups of the largest
// maxima, in ascending order (each group's rank among them, then the group
// of each rank), their 256 columns, and the top 128 of those.
// CHECK: %[[G:.*]] = tensor.expand_shape %[[L]] {{\[\[}}0], [1], [2, 3]] {{.*}} into tensor<?x16x256x2xbf16>
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[G]] : tensor<?x16x256x2xbf16>) outs(%{{.*}} : tensor<?x16x256xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 2>}
// CHECK: arith.cmpf ogt
// CHECK: %[[CHOSEN:.*]]:2 = scf.for
// CHECK: ins(%[[MAX]], {{.*}}) {{.*}} attrs = {dg.contract = #dg.best_of_rows}
// CHECK: } {dg.contract = #dg.top_k_loop<k = 128>}
// CHECK: %[[RANK:.*]] = linalg.generic {{.*}} ins(%[[CHOSEN]]#1, %[[CHOSEN]]#1 : tensor<?x16x128xi32>, tensor<?x16x128xi32>)
// CHECK: arith.cmpi slt
// CHECK: %[[SORTED:.*]] = linalg.generic {{.*}} ins(%[[CHOSEN]]#1, %[[RANK]] : tensor<?x16x128xi32>, tensor<?x16x128xi32>)
// CHECK: %[[COLUMNS:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x16x256xbf16>)
// CHECK: tensor.extract %[[SORTED]]
// CHECK: tensor.extract %[[L]]
// CHECK: %[[TOPC:.*]]:2 = scf.for
// CHECK: ins(%[[COLUMNS]], {{.*}}) {{.*}} attrs = {dg.contract = #dg.best_of_rows}
// CHECK: } {dg.contract = #dg.top_k_loop<k = 128>}
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[TOPC]]#1 : tensor<?x16x128xi32>) outs(%{{.*}} : tensor<?x16x128xi32>)
// CHECK: tensor.extract %[[SORTED]]
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %[[C]] : tensor<?x16x64xbf16>, tensor<?x16x128xi32>) outs(%{{.*}} : tensor<?x16x128xf32>)
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<512x64xbf16>
// CHECK: %[[X:.*]] = linalg.generic {{.*}} ins(%[[DOT]], %[[T]] : tensor<?x16x128xf32>, tensor<?x16xf32>)
// CHECK: math.tanh
// CHECK: %[[TOP:.*]]:2 = scf.for
// CHECK: ins(%[[X]], {{.*}}) {{.*}} attrs = {dg.contract = #dg.best_of_rows}
// CHECK: } {dg.contract = #dg.top_k_loop<k = 64>}
// The ids: the candidates' at the top-64's positions.
// CHECK: %[[IDS:.*]] = linalg.generic {{.*}} ins(%[[TOP]]#1 : tensor<?x16x64xi32>)
// CHECK: tensor.extract %[[C]]
// Entropy: log s - u / s.
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[S]]#1, %[[S]]#2 : tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK: math.log
// Probabilities: exp(v - max) / s.
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[TOP]]#0, %[[S]]#0, %[[S]]#1 : tensor<?x16x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK: math.exp
// CHECK: return %[[L]], %[[S]]#3, %[[P]], %[[IDS]], %[[N]]

// With sample-candidates=0: x in f32 (softcap and temperature applied to
// it), read by the statistics, by the top-64 and by the rounding.
// EXACT-LABEL: func.func @sample
// EXACT: %[[S:.*]]:4 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X:[0-9]+]] : tensor<?x16x512xf32>) outs({{.*}} : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xi32>) attrs = {dg.contract = #dg.row_statistics}
// EXACT-NOT: #dg.top_k_loop<k = 128>
// EXACT: %[[TOP:.*]]:2 = scf.for
// EXACT: ins(%[[X]], {{.*}}) {{.*}} attrs = {dg.contract = #dg.best_of_rows}
// EXACT: } {dg.contract = #dg.top_k_loop<k = 64>}
// EXACT: %[[N:.*]] = linalg.generic {{.*}} ins(%[[S]]#1, %[[S]]#2 : tensor<?x16xf32>, tensor<?x16xf32>)
// EXACT: %[[P:.*]] = linalg.generic {{.*}} ins(%[[TOP]]#0, %[[S]]#0, %[[S]]#1 : tensor<?x16x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>)
// EXACT: %[[L:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<?x16x512xf32>) outs({{.*}} : tensor<?x16x512xbf16>)
// EXACT: return %[[L]], %[[S]]#3, %[[P]], %[[TOP]]#1, %[[N]]
// BAD: error: sample-candidates must be at least 0, got -1
func.func @sample(%h: tensor<?x16x64xbf16>, %e: tensor<512x64xbf16>, %temp: tensor<?xf32>) -> (tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>) {
  %l, %a, %p, %i, %n = dg.sample %h, %e, %temp {softcap = 3.000000e+01 : f64, top_k = 64 : i64} : tensor<?x16x64xbf16>, tensor<512x64xbf16>, tensor<?xf32> -> tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>
  return %l, %a, %p, %i, %n : tensor<?x16x512xbf16>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>
}

// -----

// f32 logits are the op's own result: the exact form, whatever the option.
// CHECK-LABEL: func.func @f32_logits
// CHECK-NOT: #dg.top_k_loop<k = 128>
// CHECK: } {dg.contract = #dg.top_k_loop<k = 4>}
// CHECK-NOT: dg.top_k
// CHECK: return
func.func @f32_logits(%h: tensor<?x4x8xf32>, %e: tensor<32x8xf32>, %temp: tensor<?xf32>) -> (tensor<?x4x32xf32>, tensor<?x4xi32>, tensor<?x4x4xf32>, tensor<?x4x4xi32>, tensor<?x4xf32>) {
  %l, %a, %p, %i, %n = dg.sample %h, %e, %temp {softcap = 0.0 : f64, top_k = 4 : i64} : tensor<?x4x8xf32>, tensor<32x8xf32>, tensor<?xf32> -> tensor<?x4x32xf32>, tensor<?x4xi32>, tensor<?x4x4xf32>, tensor<?x4x4xi32>, tensor<?x4xf32>
  return %l, %a, %p, %i, %n : tensor<?x4x32xf32>, tensor<?x4xi32>, tensor<?x4x4xf32>, tensor<?x4x4xi32>, tensor<?x4xf32>
}

// -----

// A vocabulary smaller than top_k + 64 holds fewer candidates: all of it
// here (4 + 12), too few columns for groups, and no softcap in the
// recomputed values.
// CHECK-LABEL: func.func @small_vocabulary
// CHECK: } {dg.contract = #dg.top_k_loop<k = 16>}
// CHECK-NOT: math.tanh
// CHECK: } {dg.contract = #dg.top_k_loop<k = 4>}
func.func @small_vocabulary(%h: tensor<?x4x8xbf16>, %e: tensor<16x8xbf16>, %temp: tensor<?xf32>) -> (tensor<?x4x16xbf16>, tensor<?x4xi32>, tensor<?x4x4xf32>, tensor<?x4x4xi32>, tensor<?x4xf32>) {
  %l, %a, %p, %i, %n = dg.sample %h, %e, %temp {softcap = 0.0 : f64, top_k = 4 : i64} : tensor<?x4x8xbf16>, tensor<16x8xbf16>, tensor<?xf32> -> tensor<?x4x16xbf16>, tensor<?x4xi32>, tensor<?x4x4xf32>, tensor<?x4x4xi32>, tensor<?x4xf32>
  return %l, %a, %p, %i, %n : tensor<?x4x16xbf16>, tensor<?x4xi32>, tensor<?x4x4xf32>, tensor<?x4x4xi32>, tensor<?x4xf32>
}
