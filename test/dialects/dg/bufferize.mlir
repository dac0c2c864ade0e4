// RUN: dgc-opt %s --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s

// dg.masked_attention bufferizes as itself: it reads its four inputs and
// writes its destination in place, so an empty destination becomes the
// output buffer and no copy is made.
// CHECK-LABEL: func.func @core
// CHECK-SAME: (%[[Q:[^:]*]]: memref<?x16x4x32xbf16{{.*}}>, %[[K:[^:]*]]: memref<?x?x2x32xbf16{{.*}}>, %[[M:[^:]*]]: memref<?x16x?xbf16{{.*}}>)
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) {{.*}}: memref<?x16x4x32xbf16>
// CHECK-NOT: memref.copy
// CHECK: dg.masked_attention %[[Q]], %[[K]], %[[K]], %[[M]] into %[[OUT]] {scale = 1.000000e+00 : f64} : {{.*}} into memref<?x16x4x32xbf16>{{$}}
// CHECK: return %[[OUT]]
func.func @core(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x2x32xbf16>, %m: tensor<?x16x?xbf16>) -> tensor<?x16x4x32xbf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x16x4x32xbf16>
  %o = tensor.empty(%b) : tensor<?x16x4x32xbf16>
  %a = dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x16x?xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return %a : tensor<?x16x4x32xbf16>
}

// The paged form reads its rows' numbers as well; the pool is a buffer the
// op only reads.
// CHECK-LABEL: func.func @paged
// CHECK-SAME: %[[POOL:[^:]*]]: memref<?x2x32xbf16>, %[[ROWS:[^:]*]]: memref<?x?x2xi64
// CHECK-NOT: memref.copy
// CHECK: dg.masked_attention %{{.*}}, %[[POOL]], %[[POOL]], %{{.*}} rows %[[ROWS]] into %{{.*}} : {{.*}} rows memref<?x?x2xi64{{.*}}> into memref<?x16x4x32xbf16>{{$}}
func.func @paged(%q: tensor<?x16x4x32xbf16>, %pool: memref<?x2x32xbf16>, %r: tensor<?x?x2xi64>, %m: tensor<?x16x?xbf16>) -> tensor<?x16x4x32xbf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x16x4x32xbf16>
  %o = tensor.empty(%b) : tensor<?x16x4x32xbf16>
  %k = bufferization.to_tensor %pool restrict : memref<?x2x32xbf16> to tensor<?x2x32xbf16>
  %a = dg.masked_attention %q, %k, %k, %m rows %r into %o {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x2x32xbf16>, tensor<?x2x32xbf16>, tensor<?x16x?xbf16> rows tensor<?x?x2xi64> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return %a : tensor<?x16x4x32xbf16>
}
