// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-flash-attention))" --split-input-file | FileCheck %s

// The decoder's core after bufferization: 16 canvas queries of 4 heads over
// the keys the cache read returned, 2 K/V heads. It becomes one launch:
// per 64 queries and 128 output columns of a head a block of 128 threads,
// with its queries (staged once: the head dimension is at most 256), a
// slice of the key tile and the value tile in shared memory. The
// key loop runs over the dynamic key count with the running maximum and
// sum beside 64 accumulators; both products are mma.sync; the row maximum
// and sum combine over a quad of lanes.
// CHECK-LABEL: func.func @decoder
// CHECK-SAME: (%[[Q:[^:]*]]: memref<?x16x4x32xbf16>, %[[K:[^:]*]]: memref<?x?x2x32xbf16>, %[[V:[^:]*]]: memref<?x?x2x32xbf16>, %[[M:[^:]*]]: memref<?x16x?xbf16>, %[[O:[^:]*]]: memref<?x16x4x32xbf16>)
// CHECK-NOT: dg.masked_attention
// CHECK-DAG: %[[B:.*]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.*]] = memref.dim %[[K]], %c1
// CHECK: gpu.launch blocks(%{{[^,]*}}, %[[HEAD:[^,]*]], %[[ROW:[^)]*]]) in ({{[^,]*}}, {{[^,]*}} = %c4, {{[^)]*}} = %[[B]])
// CHECK-SAME: threads({{[^)]*}}) in ({{[^,]*}} = %c128, {{[^)]*}})
// CHECK-SAME: workgroup(%[[SQ:.*]] : memref<64x72xbf16, #gpu.address_space<workgroup>>, %[[SK:.*]] : memref<32x72xbf16, #gpu.address_space<workgroup>>, %[[SV:.*]] : memref<32x136xbf16, #gpu.address_space<workgroup>>)
// GQA: K/V head = head / 2, read in place.
// CHECK: %[[KVH:.*]] = arith.divui %[[HEAD]], %c2
// CHECK: memref.load %[[Q]][%[[ROW]], %{{.*}}, %[[HEAD]], %{{.*}}]
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %[[S]] step %c32{{.*}} iter_args(
// A tile no query of the block sees is skipped: the block votes on the
// mask (bar.red.or) and the state passes through unchanged.
// CHECK-COUNT-16: memref.load %[[M]]
// CHECK: %[[VOTE:.*]] = nvvm.barrier #nvvm.reduction<or> %{{.*}} -> i32
// CHECK: %[[SEEN:.*]] = arith.cmpi ne, %[[VOTE]], %c0_i32
// CHECK: scf.if %[[SEEN]] -> (f32,
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c64{{.*}} iter_args(
// CHECK-NOT: memref.load %[[Q]]
// CHECK: memref.load %[[K]][%[[ROW]], %{{.*}}, %[[KVH]], %{{.*}}]
// CHECK: gpu.barrier
// Per 16 dimensions: one ldmatrix.x4 of queries, one of keys per two n8
// tiles.
// CHECK: nvgpu.ldmatrix %[[SQ]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false}
// CHECK: nvgpu.ldmatrix %[[SK]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false}
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[SK]]
// CHECK-COUNT-14: nvvm.mma.sync
// CHECK: gpu.barrier
// Rounded, scaled (0.5 in bf16) and masked (with the values the vote
// read) scores.
// CHECK: arith.constant 5.000000e-01 : bf16
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: arith.mulf
// CHECK-NOT: memref.load %[[M]]
// CHECK: arith.addf
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32, %c32_i32
// CHECK: gpu.shuffle xor %{{.*}}, %c2_i32, %c32_i32
// CHECK: math.exp
// CHECK: memref.load %[[V]][%[[ROW]], %{{.*}}, %[[KVH]], %{{.*}}]
// CHECK: gpu.barrier
// V's keys run down its columns: transposing loads.
// CHECK: nvgpu.ldmatrix %[[SV]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = true}
// CHECK-COUNT-32: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: } else {
// CHECK-NEXT: scf.yield %{{.*}}, %{{.*}}
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[O]][%[[ROW]], %{{.*}}, %[[HEAD]], %{{.*}}]
// CHECK: gpu.terminator
func.func @decoder(%q: memref<?x16x4x32xbf16>, %k: memref<?x?x2x32xbf16>, %v: memref<?x?x2x32xbf16>, %m: memref<?x16x?xbf16>, %o: memref<?x16x4x32xbf16>) {
  dg.masked_attention %q, %k, %v, %m into %o {scale = 0.5 : f64} : memref<?x16x4x32xbf16>, memref<?x?x2x32xbf16>, memref<?x?x2x32xbf16>, memref<?x16x?xbf16> into memref<?x16x4x32xbf16>
  return
}

// -----

// Head dimension 512 (the global layers): four column slices per query
// tile, so x = ceil(T / 64) * 4; the score product steps through 512
// dimensions 64 at a time, staging the queries with the keys (a resident
// 64 x 512 query tile would not fit beside them). A scale of 1 is not
// multiplied.
// CHECK-LABEL: func.func @global_layer
// CHECK-SAME: (%[[Q:[^:]*]]: memref<1x256x16x512xbf16>
// CHECK: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK: %[[X:.*]] = arith.muli %[[TILES]], %c4
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^,]*}} = %[[X]], {{[^,]*}} = %c16, {{[^)]*}})
// CHECK-SAME: workgroup(%{{.*}} : memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.load %[[Q]]
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c512{{.*}} step %c64
// CHECK: memref.load %[[Q]]
// CHECK-NOT: arith.mulf
// CHECK: gpu.shuffle
func.func @global_layer(%q: memref<1x256x16x512xbf16>, %k: memref<1x?x2x512xbf16>, %m: memref<1x256x?xbf16>, %o: memref<1x256x16x512xbf16>) {
  dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : memref<1x256x16x512xbf16>, memref<1x?x2x512xbf16>, memref<1x?x2x512xbf16>, memref<1x256x?xbf16> into memref<1x256x16x512xbf16>
  return
}

// -----

// Fresh buffers with rows of a multiple of 8 elements (the roped queries,
// the rows the cache read returned) are staged 16 bytes at a time, by
// cp.async straight into shared memory, each thread waiting for its copies
// before the barrier; a function argument's alignment is unknown, so the
// mask and the output stay element by element.
// CHECK-LABEL: func.func @aligned
// CHECK: %[[Q:.*]] = memref.alloc() : memref<1x256x16x256xbf16>
// CHECK: %[[K:.*]] = gpu.alloc host_shared
// CHECK: gpu.launch
// CHECK-SAME: workgroup(%[[SQ:.*]] : memref<64x264xbf16, #gpu.address_space<workgroup>>, %[[SK:.*]] : memref<32x72xbf16, #gpu.address_space<workgroup>>, %[[SV:.*]] : memref<32x136xbf16, #gpu.address_space<workgroup>>)
// CHECK: nvgpu.device_async_copy %[[Q]][%{{.*}}], %[[SQ]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1} : memref<1x256x16x256xbf16> to memref<64x264xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[QDONE:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[QDONE]] {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy %[[K]][%{{.*}}], %[[SK]]
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.device_async_copy %[[K]][%{{.*}}], %[[SV]]
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: vector.load
// CHECK: memref.store %{{.*}} : memref<1x256x16x256xbf16>
func.func @aligned(%s: index, %m: memref<1x256x?xbf16>, %o: memref<1x256x16x256xbf16>) {
  %q = memref.alloc() : memref<1x256x16x256xbf16>
  %k = gpu.alloc host_shared (%s) : memref<1x?x8x256xbf16>
  dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : memref<1x256x16x256xbf16>, memref<1x?x8x256xbf16>, memref<1x?x8x256xbf16>, memref<1x256x?xbf16> into memref<1x256x16x256xbf16>
  return
}

// -----

// Weights viewed from the arena at offsets that are multiples of 16 bytes
// (a kernel benchmark's operands) are staged 16 bytes at a time too; a view
// at an odd offset is not.
// CHECK-LABEL: func.func @weights
// CHECK: gpu.launch
// CHECK: nvgpu.device_async_copy %{{.*}} : memref<1x64x4x32xbf16> to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy %{{.*}} : memref<1x128x2x32xbf16> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK-NOT: nvgpu.device_async_copy %{{.*}} : memref<1x128x2x32xbf16> to memref<32x136xbf16
// CHECK: memref.load %{{.*}} : memref<1x128x2x32xbf16>
func.func @weights(%arena: memref<?xi8>, %m: memref<1x64x128xbf16>, %o: memref<1x64x4x32xbf16>) {
  %c0 = arith.constant 0 : index
  %c16384 = arith.constant 16384 : index
  %c32770 = arith.constant 32770 : index
  %q = memref.view %arena[%c0][] : memref<?xi8> to memref<1x64x4x32xbf16>
  %k = memref.view %arena[%c16384][] : memref<?xi8> to memref<1x128x2x32xbf16>
  %v = memref.view %arena[%c32770][] : memref<?xi8> to memref<1x128x2x32xbf16>
  dg.masked_attention %q, %k, %v, %m into %o {scale = 1.0 : f64} : memref<1x64x4x32xbf16>, memref<1x128x2x32xbf16>, memref<1x128x2x32xbf16>, memref<1x64x128xbf16> into memref<1x64x4x32xbf16>
  return
}

// -----

// On tensors the op is not this pass's: it waits for bufferization.
// CHECK-LABEL: func.func @tensors
// CHECK: dg.masked_attention
// CHECK-NOT: gpu.launch
func.func @tensors(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x2x32xbf16>, %m: tensor<?x16x?xbf16>, %o: tensor<?x16x4x32xbf16>) -> tensor<?x16x4x32xbf16> {
  %a = dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x16x?xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return %a : tensor<?x16x4x32xbf16>
}

// -----

// Paged keys: the key count is the rows' second dimension, and each key
// and value row is copied from the pool where its number points (K's in
// column 0, V's in column 1); a negative number, like a key past the end,
// zero-fills. The pool is a KV cache's, which the runtime allocates
// aligned, so its rows go by cp.async; the queries, an argument here, do
// not.
// CHECK-LABEL: func.func @paged
// CHECK-SAME: (%[[Q:[^:]*]]: memref<1x16x4x32xbf16>, %[[POOL:[^:]*]]: memref<?x2x32xbf16> {dg.kv_cache}, %[[ROWS:[^:]*]]: memref<1x?x2xi64>,
// CHECK-DAG: %[[S:.*]] = memref.dim %[[ROWS]], %c1
// CHECK: gpu.launch
// CHECK-SAME: workgroup(%[[SQ:.*]] : memref<64x72xbf16, #gpu.address_space<workgroup>>, %[[SK:.*]] : memref<32x72xbf16, #gpu.address_space<workgroup>>, %[[SV:.*]] : memref<32x136xbf16, #gpu.address_space<workgroup>>)
// CHECK: memref.load %[[Q]]
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %[[S]] step %c32{{.*}} iter_args(
// CHECK: nvvm.barrier #nvvm.reduction<or>
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c64{{.*}} iter_args(
// CHECK: %[[INSIDE:.*]] = arith.cmpi ult, %[[KEY:.*]], %[[S]] : index
// CHECK: %[[SAFE:.*]] = arith.select %[[INSIDE]], %[[KEY]], %c0{{.*}} : index
// CHECK-NEXT: arith.constant 0 : index
// CHECK-NEXT: %[[KR:.*]] = memref.load %[[ROWS]][%{{.*}}, %[[SAFE]], %c0{{.*}}] : memref<1x?x2xi64>
// CHECK: %[[KRI:.*]] = arith.index_cast %[[KR]] : i64 to index
// CHECK: %[[PRESENT:.*]] = arith.cmpi sge, %[[KRI]], %c0
// CHECK: %[[OK:.*]] = arith.andi %{{.*}}, %[[PRESENT]]
// CHECK: %[[AT:.*]] = arith.select %[[OK]], %[[KRI]], %c0
// CHECK: nvgpu.device_async_copy %[[POOL]][%[[AT]], %{{.*}}, %{{.*}}], %[[SK]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1} : memref<?x2x32xbf16> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: nvvm.mma.sync
// CHECK: memref.load %[[ROWS]][%{{.*}}, %{{.*}}, %c1{{.*}}] : memref<1x?x2xi64>
// CHECK: nvgpu.device_async_copy %[[POOL]][%{{.*}}, %{{.*}}, %{{.*}}], %[[SV]]
// CHECK-NOT: memref.load %[[POOL]]
// CHECK: return
func.func @paged(%q: memref<1x16x4x32xbf16>, %pool: memref<?x2x32xbf16> {dg.kv_cache}, %rows: memref<1x?x2xi64>, %m: memref<1x16x?xbf16>, %o: memref<1x16x4x32xbf16>) {
  dg.masked_attention %q, %pool, %pool, %m rows %rows into %o {scale = 1.0 : f64} : memref<1x16x4x32xbf16>, memref<?x2x32xbf16>, memref<?x2x32xbf16>, memref<1x16x?xbf16> rows memref<1x?x2xi64> into memref<1x16x4x32xbf16>
  return
}

// -----

// A pool that is not a KV cache's argument has no alignment to trust: its
// rows are read element by element, still through the row numbers.
// CHECK-LABEL: func.func @paged_unmarked
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %c0{{.*}}] : memref<1x?x2xi64>
// CHECK: scf.if
// CHECK: memref.load %{{.*}} : memref<?x2x32xbf16>
// CHECK-NOT: nvgpu.device_async_copy %{{.*}} : memref<?x2x32xbf16>
func.func @paged_unmarked(%q: memref<1x16x4x32xbf16>, %pool: memref<?x2x32xbf16>, %rows: memref<1x?x2xi64>, %m: memref<1x16x?xbf16>, %o: memref<1x16x4x32xbf16>) {
  dg.masked_attention %q, %pool, %pool, %m rows %rows into %o {scale = 1.0 : f64} : memref<1x16x4x32xbf16>, memref<?x2x32xbf16>, memref<?x2x32xbf16>, memref<1x16x?xbf16> rows memref<1x?x2xi64> into memref<1x16x4x32xbf16>
  return
}
