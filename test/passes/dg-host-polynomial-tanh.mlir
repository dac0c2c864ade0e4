// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-polynomial-tanh))" | FileCheck %s

// The gelu's f32 tanh becomes arithmetic (a clamp, then a rational
// function of x, or x itself near 0), scalar or vector, with contractable
// multiplies and adds rather than math.fma; f64 stays a call.
// CHECK-LABEL: func.func @gelu_tanh
// CHECK-SAME: (%[[X:.*]]: f32, %[[V:.*]]: vector<8xf32>, %[[D:.*]]: f64)
// CHECK-DAG: %[[HI:.*]] = arith.constant 7.99881172 : f32
// CHECK-DAG: %[[SMALL:.*]] = arith.constant 4.000000e-04 : f32
// CHECK-NOT: math.fma
// CHECK: %[[CLAMP:.*]] = arith.select %{{.*}}, %[[X]], %[[HI]] : f32
// CHECK: %[[ABS:.*]] = math.absf %[[X]] : f32
// CHECK: arith.cmpf olt, %[[ABS]], %[[SMALL]] : f32
// CHECK: arith.mulf %{{.*}} fastmath<contract> : f32
// CHECK: arith.addf %{{.*}} fastmath<contract> : f32
// CHECK: arith.divf %{{.*}} : f32
// CHECK: arith.select
// CHECK: arith.divf %{{.*}} : vector<8xf32>
// CHECK: math.tanh %[[D]] : f64
// CHECK-NOT: math.tanh
// CHECK-NOT: math.fma
// CHECK: return
func.func @gelu_tanh(%x: f32, %v: vector<8xf32>, %d: f64) -> (f32, vector<8xf32>, f64) {
  %0 = math.tanh %x : f32
  %1 = math.tanh %v : vector<8xf32>
  %2 = math.tanh %d : f64
  return %0, %1, %2 : f32, vector<8xf32>, f64
}
