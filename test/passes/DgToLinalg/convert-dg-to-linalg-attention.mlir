// RUN: dgc-opt %s --convert-dg-to-linalg -split-input-file | FileCheck %s
// RUN: dgc-opt %s --convert-dg-to-linalg="flash-attention=true" -split-input-file | FileCheck %s --check-prefix=FLASH

// dg.attention becomes its norms, RoPE and mask around the core, which the
// host expands into GQA, both products and the softmax in f32. With
// flash-attention a bf16 core stays whole for the CUDA target's kernel,
// reading K and V token-major as they are, with no repeated heads.
// CHECK-LABEL: func.func @bf16
// CHECK-NOT: dg.
// CHECK: math.exp
// CHECK-NOT: dg.
// CHECK: return
// FLASH-LABEL: func.func @bf16
// FLASH-SAME: %[[Q:[^:]*]]: tensor<?x16x4x32xbf16>
// FLASH: %[[MASK:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x16x16xbf16>)
// FLASH: %[[INIT:.*]] = tensor.empty(%{{.*}}) : tensor<?x16x4x32xbf16>
// FLASH: %[[OUT:.*]] = dg.masked_attention %{{.*}}, %{{.*}}, %{{.*}}, %[[MASK]] into %[[INIT]] {scale = 1.250000e-01 : f64} : tensor<?x16x4x32xbf16>, tensor<?x16x2x32xbf16>, tensor<?x16x2x32xbf16>, tensor<?x16x16xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
// FLASH-NOT: math.exp
// FLASH: return %[[OUT]]
func.func @bf16(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x16x2x32xbf16>, %n: tensor<32xbf16>, %pos: tensor<?x16x2xi32>, %kp: tensor<?x16xi32>) -> tensor<?x16x4x32xbf16> {
  %a = dg.attention %q, %k, %k, %n, %n, %pos keys %kp {epsilon = 1.0e-6 : f64, mask = #dg<mask_kind bidirectional>, rope = #dg<rope_kind two_d>, scale = 0.125 : f64, theta = 100.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x16x2x32xbf16>, tensor<?x16x2x32xbf16>, tensor<32xbf16>, tensor<32xbf16>, tensor<?x16x2xi32> keys tensor<?x16xi32> -> tensor<?x16x4x32xbf16>
  return %a : tensor<?x16x4x32xbf16>
}

// -----

// An f32 core has no flash kernel: expanded either way.
// CHECK-LABEL: func.func @f32
// CHECK-NOT: dg.
// CHECK: return
// FLASH-LABEL: func.func @f32
// FLASH-NOT: dg.masked_attention
// FLASH: math.exp
// FLASH: return
func.func @f32(%q: tensor<?x16x4x32xf32>, %n: tensor<32xf32>, %pos: tensor<?x16x2xi32>, %kp: tensor<?x16xi32>) -> tensor<?x16x4x32xf32> {
  %a = dg.attention %q, %q, %q, %n, %n, %pos keys %kp {epsilon = 1.0e-6 : f64, mask = #dg<mask_kind bidirectional>, rope = #dg<rope_kind two_d>, scale = 1.0 : f64, theta = 100.0 : f64} : tensor<?x16x4x32xf32>, tensor<?x16x4x32xf32>, tensor<?x16x4x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<?x16x2xi32> keys tensor<?x16xi32> -> tensor<?x16x4x32xf32>
  return %a : tensor<?x16x4x32xf32>
}

// -----

// The core on its own, as dgc-opt users may write it: expanded by default,
// GQA 4:2 by repeating each K/V head twice.
// CHECK-LABEL: func.func @core
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}} : tensor<?x?x2x32xbf16>) outs(%{{.*}} : tensor<?x?x4x32xbf16>)
// CHECK-NOT: dg.masked_attention
// FLASH-LABEL: func.func @core
// FLASH-NEXT: dg.masked_attention
func.func @core(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x2x32xbf16>, %m: tensor<?x16x?xbf16>, %o: tensor<?x16x4x32xbf16>) -> tensor<?x16x4x32xbf16> {
  %a = dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x16x?xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return %a : tensor<?x16x4x32xbf16>
}
