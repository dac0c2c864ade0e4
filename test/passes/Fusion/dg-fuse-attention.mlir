// RUN: dgc-opt %s --dg-fuse-attention -split-input-file | FileCheck %s
// RUN: dgc-opt %s --dg-fuse-attention=report=true -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 32, window = 8, f32>

// A decoder layer's attention (GQA 4:2, windowed canvas mask, scale 0.5)
// becomes one dg.attention that writes and reads the cache itself.
// CHECK-LABEL: func.func @fuses
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x16x4x32xf32>, %[[K:[^:]*]]: tensor<?x16x2x32xf32>, %[[V:[^:]*]]: tensor<?x16x2x32xf32>, %[[WQ:[^:]*]]: tensor<32xf32>, %[[WK:[^:]*]]: tensor<32xf32>, %[[P:[^:]*]]: tensor<?x16xi32>, %[[L:[^:]*]]: tensor<?xi32>, %[[C:[^:]*]]: !dg.kv_cache
// CHECK-NOT: dg.kv_cache_write
// CHECK-NOT: dg.softmax
// CHECK: %[[O:.*]] = dg.attention %[[Q]], %[[K]], %[[V]], %[[WQ]], %[[WK]], %[[P]] cache %[[C]][0] committed %[[L]] {epsilon = 9.9999999999999995E-7 : f64, mask = #dg<mask_kind canvas>, rope = #dg<rope_kind default>, scale = 5.000000e-01 : f64, scratch, theta = 1.000000e+04 : f64, window = 8 : i64}
// CHECK-NOT: dg.kv_cache_read
// CHECK: return %[[O]]
// REPORT: remark: dg-fuse-attention: 1 fused, 0 left
func.func @fuses(%q: tensor<?x16x4x32xf32>, %k: tensor<?x16x2x32xf32>, %v: tensor<?x16x2x32xf32>, %wq: tensor<32xf32>, %wk: tensor<32xf32>, %pos: tensor<?x16xi32>, %l: tensor<?xi32>, %c: !pool, %t: tensor<f32>) -> (tensor<?x16x4x32xf32>) {
  %c16 = arith.constant dense<16> : tensor<i32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %qn = dg.rms_norm %q, %wq {epsilon = 1.0e-06 : f64} : tensor<?x16x4x32xf32>, tensor<32xf32>
  %qr = dg.rope %qn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x4x32xf32>, tensor<?x16xi32>
  %kn = dg.rms_norm %k, %wk {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>, tensor<32xf32>
  %kr = dg.rope %kn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %vn = dg.rms_norm %v {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>
  dg.kv_cache_write %c[0], %kr, %vn, %pos {scratch} : !pool, tensor<?x16x2x32xf32>, tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %len = dg.add %l, %c16 : tensor<?xi32>, tensor<i32> -> tensor<?xi32>
  %keys, %vals, %kpos = dg.kv_cache_read %c[0], %len : !pool, tensor<?xi32> -> tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?xi32>
  %kg = dg.repeat_interleave %keys {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %kt = dg.transpose %kg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %vg = dg.repeat_interleave %vals {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %vt = dg.transpose %vg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %qt = dg.transpose %qr [0, 2, 1, 3] : tensor<?x16x4x32xf32> -> tensor<?x4x16x32xf32>
  %s0 = dg.matmul %qt, %kt {transpose_rhs} : tensor<?x4x16x32xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x?xf32>
  %s = dg.mul %s0, %half : tensor<?x4x16x?xf32>, tensor<f32> -> tensor<?x4x16x?xf32>
  %m = dg.mask %pos, %kpos, %l {kind = #dg<mask_kind canvas>, window = 8 : i64} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  %m4 = dg.reshape %m : tensor<?x16x?xf32> -> tensor<?x1x16x?xf32>
  %sm = dg.add %s, %m4 : tensor<?x4x16x?xf32>, tensor<?x1x16x?xf32> -> tensor<?x4x16x?xf32>
  %p = dg.softmax %sm {axis = 3 : i64} : tensor<?x4x16x?xf32>
  %pv = dg.matmul %p, %vt : tensor<?x4x16x?xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x32xf32>
  %o = dg.transpose %pv [0, 2, 1, 3] : tensor<?x4x16x32xf32> -> tensor<?x16x4x32xf32>
  return %o : tensor<?x16x4x32xf32>
}

// -----

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 32, window = 8, f32>

// Keys read from another layer than the one written: left alone.
// CHECK-LABEL: func.func @other_layer
// CHECK-NOT: dg.attention
// REPORT: remark: dg-fuse-attention: 0 fused, 1 left
func.func @other_layer(%q: tensor<?x16x4x32xf32>, %k: tensor<?x16x2x32xf32>, %v: tensor<?x16x2x32xf32>, %wq: tensor<32xf32>, %wk: tensor<32xf32>, %pos: tensor<?x16xi32>, %l: tensor<?xi32>, %c: !pool, %t: tensor<f32>) -> (tensor<?x16x4x32xf32>) {
  %c16 = arith.constant dense<16> : tensor<i32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %qn = dg.rms_norm %q, %wq {epsilon = 1.0e-06 : f64} : tensor<?x16x4x32xf32>, tensor<32xf32>
  %qr = dg.rope %qn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x4x32xf32>, tensor<?x16xi32>
  %kn = dg.rms_norm %k, %wk {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>, tensor<32xf32>
  %kr = dg.rope %kn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %vn = dg.rms_norm %v {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>
  dg.kv_cache_write %c[0], %kr, %vn, %pos {scratch} : !pool, tensor<?x16x2x32xf32>, tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %len = dg.add %l, %c16 : tensor<?xi32>, tensor<i32> -> tensor<?xi32>
  %keys, %vals, %kpos = dg.kv_cache_read %c[1], %len : !pool, tensor<?xi32> -> tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?xi32>
  %kg = dg.repeat_interleave %keys {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %kt = dg.transpose %kg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %vg = dg.repeat_interleave %vals {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %vt = dg.transpose %vg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %qt = dg.transpose %qr [0, 2, 1, 3] : tensor<?x16x4x32xf32> -> tensor<?x4x16x32xf32>
  %s0 = dg.matmul %qt, %kt {transpose_rhs} : tensor<?x4x16x32xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x?xf32>
  %s = dg.mul %s0, %half : tensor<?x4x16x?xf32>, tensor<f32> -> tensor<?x4x16x?xf32>
  %m = dg.mask %pos, %kpos, %l {kind = #dg<mask_kind canvas>, window = 8 : i64} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  %m4 = dg.reshape %m : tensor<?x16x?xf32> -> tensor<?x1x16x?xf32>
  %sm = dg.add %s, %m4 : tensor<?x4x16x?xf32>, tensor<?x1x16x?xf32> -> tensor<?x4x16x?xf32>
  %p = dg.softmax %sm {axis = 3 : i64} : tensor<?x4x16x?xf32>
  %pv = dg.matmul %p, %vt : tensor<?x4x16x?xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x32xf32>
  %o = dg.transpose %pv [0, 2, 1, 3] : tensor<?x4x16x32xf32> -> tensor<?x16x4x32xf32>
  return %o : tensor<?x16x4x32xf32>
}

// -----

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 32, window = 8, f32>

// Scores scaled by a runtime value: left alone.
// CHECK-LABEL: func.func @runtime_scale
// CHECK-NOT: dg.attention
// REPORT: remark: dg-fuse-attention: 0 fused, 1 left
func.func @runtime_scale(%q: tensor<?x16x4x32xf32>, %k: tensor<?x16x2x32xf32>, %v: tensor<?x16x2x32xf32>, %wq: tensor<32xf32>, %wk: tensor<32xf32>, %pos: tensor<?x16xi32>, %l: tensor<?xi32>, %c: !pool, %t: tensor<f32>) -> (tensor<?x16x4x32xf32>) {
  %c16 = arith.constant dense<16> : tensor<i32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %qn = dg.rms_norm %q, %wq {epsilon = 1.0e-06 : f64} : tensor<?x16x4x32xf32>, tensor<32xf32>
  %qr = dg.rope %qn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x4x32xf32>, tensor<?x16xi32>
  %kn = dg.rms_norm %k, %wk {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>, tensor<32xf32>
  %kr = dg.rope %kn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %vn = dg.rms_norm %v {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>
  dg.kv_cache_write %c[0], %kr, %vn, %pos {scratch} : !pool, tensor<?x16x2x32xf32>, tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %len = dg.add %l, %c16 : tensor<?xi32>, tensor<i32> -> tensor<?xi32>
  %keys, %vals, %kpos = dg.kv_cache_read %c[0], %len : !pool, tensor<?xi32> -> tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?xi32>
  %kg = dg.repeat_interleave %keys {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %kt = dg.transpose %kg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %vg = dg.repeat_interleave %vals {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %vt = dg.transpose %vg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %qt = dg.transpose %qr [0, 2, 1, 3] : tensor<?x16x4x32xf32> -> tensor<?x4x16x32xf32>
  %s0 = dg.matmul %qt, %kt {transpose_rhs} : tensor<?x4x16x32xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x?xf32>
  %s = dg.mul %s0, %t : tensor<?x4x16x?xf32>, tensor<f32> -> tensor<?x4x16x?xf32>
  %m = dg.mask %pos, %kpos, %l {kind = #dg<mask_kind canvas>, window = 8 : i64} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  %m4 = dg.reshape %m : tensor<?x16x?xf32> -> tensor<?x1x16x?xf32>
  %sm = dg.add %s, %m4 : tensor<?x4x16x?xf32>, tensor<?x1x16x?xf32> -> tensor<?x4x16x?xf32>
  %p = dg.softmax %sm {axis = 3 : i64} : tensor<?x4x16x?xf32>
  %pv = dg.matmul %p, %vt : tensor<?x4x16x?xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x32xf32>
  %o = dg.transpose %pv [0, 2, 1, 3] : tensor<?x4x16x32xf32> -> tensor<?x16x4x32xf32>
  return %o : tensor<?x16x4x32xf32>
}

// -----

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 32, window = 8, f32>

// A softmax over the queries instead of the keys: left alone.
// CHECK-LABEL: func.func @softmax_over_queries
// CHECK-NOT: dg.attention
// REPORT: remark: dg-fuse-attention: 0 fused, 1 left
func.func @softmax_over_queries(%q: tensor<?x16x4x32xf32>, %k: tensor<?x16x2x32xf32>, %v: tensor<?x16x2x32xf32>, %wq: tensor<32xf32>, %wk: tensor<32xf32>, %pos: tensor<?x16xi32>, %l: tensor<?xi32>, %c: !pool, %t: tensor<f32>) -> (tensor<?x16x4x32xf32>) {
  %c16 = arith.constant dense<16> : tensor<i32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %qn = dg.rms_norm %q, %wq {epsilon = 1.0e-06 : f64} : tensor<?x16x4x32xf32>, tensor<32xf32>
  %qr = dg.rope %qn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x4x32xf32>, tensor<?x16xi32>
  %kn = dg.rms_norm %k, %wk {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>, tensor<32xf32>
  %kr = dg.rope %kn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %vn = dg.rms_norm %v {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>
  dg.kv_cache_write %c[0], %kr, %vn, %pos {scratch} : !pool, tensor<?x16x2x32xf32>, tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %len = dg.add %l, %c16 : tensor<?xi32>, tensor<i32> -> tensor<?xi32>
  %keys, %vals, %kpos = dg.kv_cache_read %c[0], %len : !pool, tensor<?xi32> -> tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?xi32>
  %kg = dg.repeat_interleave %keys {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %kt = dg.transpose %kg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %vg = dg.repeat_interleave %vals {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %vt = dg.transpose %vg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %qt = dg.transpose %qr [0, 2, 1, 3] : tensor<?x16x4x32xf32> -> tensor<?x4x16x32xf32>
  %s0 = dg.matmul %qt, %kt {transpose_rhs} : tensor<?x4x16x32xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x?xf32>
  %s = dg.mul %s0, %half : tensor<?x4x16x?xf32>, tensor<f32> -> tensor<?x4x16x?xf32>
  %m = dg.mask %pos, %kpos, %l {kind = #dg<mask_kind canvas>, window = 8 : i64} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  %m4 = dg.reshape %m : tensor<?x16x?xf32> -> tensor<?x1x16x?xf32>
  %sm = dg.add %s, %m4 : tensor<?x4x16x?xf32>, tensor<?x1x16x?xf32> -> tensor<?x4x16x?xf32>
  %p = dg.softmax %sm {axis = 2 : i64} : tensor<?x4x16x?xf32>
  %pv = dg.matmul %p, %vt : tensor<?x4x16x?xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x32xf32>
  %o = dg.transpose %pv [0, 2, 1, 3] : tensor<?x4x16x32xf32> -> tensor<?x16x4x32xf32>
  return %o : tensor<?x16x4x32xf32>
}

// -----

!pool = !dg.kv_cache<sliding, layers = 2, kv_heads = 2, head_dim = 32, window = 8, f32>

// Attention probabilities used elsewhere: left alone.
// CHECK-LABEL: func.func @probabilities_escape
// CHECK-NOT: dg.attention
// REPORT: remark: dg-fuse-attention: 0 fused, 1 left
func.func @probabilities_escape(%q: tensor<?x16x4x32xf32>, %k: tensor<?x16x2x32xf32>, %v: tensor<?x16x2x32xf32>, %wq: tensor<32xf32>, %wk: tensor<32xf32>, %pos: tensor<?x16xi32>, %l: tensor<?xi32>, %c: !pool, %t: tensor<f32>) -> (tensor<?x16x4x32xf32>, tensor<?x4x16x?xf32>) {
  %c16 = arith.constant dense<16> : tensor<i32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %qn = dg.rms_norm %q, %wq {epsilon = 1.0e-06 : f64} : tensor<?x16x4x32xf32>, tensor<32xf32>
  %qr = dg.rope %qn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x4x32xf32>, tensor<?x16xi32>
  %kn = dg.rms_norm %k, %wk {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>, tensor<32xf32>
  %kr = dg.rope %kn, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %vn = dg.rms_norm %v {epsilon = 1.0e-06 : f64} : tensor<?x16x2x32xf32>
  dg.kv_cache_write %c[0], %kr, %vn, %pos {scratch} : !pool, tensor<?x16x2x32xf32>, tensor<?x16x2x32xf32>, tensor<?x16xi32>
  %len = dg.add %l, %c16 : tensor<?xi32>, tensor<i32> -> tensor<?xi32>
  %keys, %vals, %kpos = dg.kv_cache_read %c[0], %len : !pool, tensor<?xi32> -> tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?xi32>
  %kg = dg.repeat_interleave %keys {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %kt = dg.transpose %kg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %vg = dg.repeat_interleave %vals {axis = 2 : i64, repeats = 2 : i64} : tensor<?x?x2x32xf32> -> tensor<?x?x4x32xf32>
  %vt = dg.transpose %vg [0, 2, 1, 3] : tensor<?x?x4x32xf32> -> tensor<?x4x?x32xf32>
  %qt = dg.transpose %qr [0, 2, 1, 3] : tensor<?x16x4x32xf32> -> tensor<?x4x16x32xf32>
  %s0 = dg.matmul %qt, %kt {transpose_rhs} : tensor<?x4x16x32xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x?xf32>
  %s = dg.mul %s0, %half : tensor<?x4x16x?xf32>, tensor<f32> -> tensor<?x4x16x?xf32>
  %m = dg.mask %pos, %kpos, %l {kind = #dg<mask_kind canvas>, window = 8 : i64} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  %m4 = dg.reshape %m : tensor<?x16x?xf32> -> tensor<?x1x16x?xf32>
  %sm = dg.add %s, %m4 : tensor<?x4x16x?xf32>, tensor<?x1x16x?xf32> -> tensor<?x4x16x?xf32>
  %p = dg.softmax %sm {axis = 3 : i64} : tensor<?x4x16x?xf32>
  %pv = dg.matmul %p, %vt : tensor<?x4x16x?xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x16x32xf32>
  %o = dg.transpose %pv [0, 2, 1, 3] : tensor<?x4x16x32xf32> -> tensor<?x16x4x32xf32>
  return %o, %p : tensor<?x16x4x32xf32>, tensor<?x4x16x?xf32>
}

// -----

// The vision tower's attention: no cache, bidirectional over the valid
// patches (2-D RoPE, MHA), the mask shared with other layers.
// CHECK-LABEL: func.func @uncached
// CHECK: %[[M:.*]] = dg.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} keys %{{.*}} {epsilon = 9.9999999999999995E-7 : f64, mask = #dg<mask_kind bidirectional>, rope = #dg<rope_kind two_d>, scale = 1.000000e+00 : f64, theta = 1.000000e+02 : f64}
// REPORT: remark: dg-fuse-attention: 1 fused, 0 left
func.func @uncached(%q: tensor<?x36x2x16xf32>, %k: tensor<?x36x2x16xf32>, %v: tensor<?x36x2x16xf32>, %wq: tensor<16xf32>, %wk: tensor<16xf32>, %pos: tensor<?x36x2xi32>, %cols: tensor<?x36xi32>) -> (tensor<?x36x2x16xf32>, tensor<?x1x36x36xf32>) {
  %m = dg.mask %cols, %cols {kind = #dg<mask_kind bidirectional>} : tensor<?x36xi32>, tensor<?x36xi32> -> tensor<?x36x36xf32>
  %m4 = dg.reshape %m : tensor<?x36x36xf32> -> tensor<?x1x36x36xf32>
  %qn = dg.rms_norm %q, %wq {epsilon = 1.0e-06 : f64} : tensor<?x36x2x16xf32>, tensor<16xf32>
  %qr = dg.rope %qn, %pos {kind = #dg<rope_kind two_d>, theta = 1.0e+02 : f64} : tensor<?x36x2x16xf32>, tensor<?x36x2xi32>
  %kn = dg.rms_norm %k, %wk {epsilon = 1.0e-06 : f64} : tensor<?x36x2x16xf32>, tensor<16xf32>
  %kr = dg.rope %kn, %pos {kind = #dg<rope_kind two_d>, theta = 1.0e+02 : f64} : tensor<?x36x2x16xf32>, tensor<?x36x2xi32>
  %vn = dg.rms_norm %v {epsilon = 1.0e-06 : f64} : tensor<?x36x2x16xf32>
  %kt = dg.transpose %kr [0, 2, 1, 3] : tensor<?x36x2x16xf32> -> tensor<?x2x36x16xf32>
  %vt = dg.transpose %vn [0, 2, 1, 3] : tensor<?x36x2x16xf32> -> tensor<?x2x36x16xf32>
  %qt = dg.transpose %qr [0, 2, 1, 3] : tensor<?x36x2x16xf32> -> tensor<?x2x36x16xf32>
  %s = dg.matmul %qt, %kt {transpose_rhs} : tensor<?x2x36x16xf32>, tensor<?x2x36x16xf32> -> tensor<?x2x36x36xf32>
  %sm = dg.add %s, %m4 : tensor<?x2x36x36xf32>, tensor<?x1x36x36xf32> -> tensor<?x2x36x36xf32>
  %p = dg.softmax %sm {axis = 3 : i64} : tensor<?x2x36x36xf32>
  %pv = dg.matmul %p, %vt : tensor<?x2x36x36xf32>, tensor<?x2x36x16xf32> -> tensor<?x2x36x16xf32>
  %o = dg.transpose %pv [0, 2, 1, 3] : tensor<?x2x36x16xf32> -> tensor<?x36x2x16xf32>
  return %o, %m4 : tensor<?x36x2x16xf32>, tensor<?x1x36x36xf32>
}
