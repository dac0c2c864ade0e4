// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-polynomial-math))" | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-polynomial-math{ops=exp}))" | FileCheck %s --check-prefix=EXP

// f32 tanh, exp and log (scalar or vector) become arithmetic with
// contractable multiplies and adds rather than math.fma: tanh a clamp and
// a rational function of x (x itself near 0); exp 2^n built in the
// exponent bits; log the exponent and a polynomial of the mantissa, with
// log(0) = -inf. f64 and the ops not selected (sin) stay calls.
// CHECK-LABEL: func.func @approximated
// CHECK-SAME: (%[[X:.*]]: f32, %[[V:.*]]: vector<8xf32>, %[[D:.*]]: f64)
// CHECK-DAG: %[[HI:.*]] = arith.constant 7.99881172 : f32
// CHECK-DAG: %[[SMALL:.*]] = arith.constant 4.000000e-04 : f32
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-NOT: math.fma
// CHECK: arith.select %{{.*}}, %[[X]], %[[HI]] : f32
// CHECK: %[[ABS:.*]] = math.absf %[[X]] : f32
// CHECK: arith.cmpf olt, %[[ABS]], %[[SMALL]] : f32
// CHECK: arith.mulf %{{.*}} fastmath<contract> : f32
// CHECK: arith.addf %{{.*}} fastmath<contract> : f32
// CHECK: arith.divf %{{.*}} : f32
// CHECK: arith.divf %{{.*}} : vector<8xf32>
// CHECK: math.floor
// CHECK: arith.fptosi %{{.*}} : f32 to i32
// CHECK: arith.shli
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.shrui
// CHECK: arith.select %{{.*}}, %[[NEGINF]], %{{.*}} : f32
// CHECK: math.tanh %[[D]] : f64
// CHECK: math.sin %[[X]] : f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK-NOT: math.fma
// CHECK: return

// EXP-LABEL: func.func @approximated
// EXP: math.tanh %{{.*}} : f32
// EXP: math.tanh %{{.*}} : vector<8xf32>
// EXP-NOT: math.exp
// EXP: math.log
func.func @approximated(%x: f32, %v: vector<8xf32>, %d: f64) -> (f32, vector<8xf32>, f32, f32, f64, f32) {
  %0 = math.tanh %x : f32
  %1 = math.tanh %v : vector<8xf32>
  %2 = math.exp %x : f32
  %3 = math.log %x : f32
  %4 = math.tanh %d : f64
  %5 = math.sin %x : f32
  return %0, %1, %2, %3, %4, %5 : f32, vector<8xf32>, f32, f32, f64, f32
}
