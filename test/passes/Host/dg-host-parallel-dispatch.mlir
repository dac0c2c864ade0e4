// RUN: dgc-opt %s --pass-pipeline="builtin.module(dg-host-parallel-dispatch)" --split-input-file --verify-diagnostics | FileCheck %s

// A call of a chunked nest stores begin and the arguments in a context on
// the caller's stack (allocated in the entry block) and forks over
// [0, end - begin) through @dgc_parallel_for, or calls the chunk over all
// of it while the runtime has not set the pointer. The chunk reads the
// context back and calls the nest for [begin + first, begin + last).
// CHECK: llvm.mlir.global external @dgc_parallel_for() {{.*}} : !llvm.ptr {
// CHECK-NEXT: llvm.mlir.zero : !llvm.ptr
// CHECK-LABEL: llvm.func internal @graph_nest0(
// CHECK-LABEL: llvm.func internal @graph_nest0_chunk(
// CHECK-SAME: %[[STATE:[^:]*]]: !llvm.ptr, %[[FIRST:[^:]*]]: i64, %[[LAST:[^:]*]]: i64)
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[STATE]][0, 0]
// CHECK: %[[BEGIN:.*]] = llvm.load %[[P0]] : !llvm.ptr -> i64
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[STATE]][0, 1]
// CHECK: %[[DATA:.*]] = llvm.load %[[P1]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P2:.*]] = llvm.getelementptr %[[STATE]][0, 2]
// CHECK: %[[SIZE:.*]] = llvm.load %[[P2]] : !llvm.ptr -> i64
// CHECK: %[[LO:.*]] = llvm.add %[[BEGIN]], %[[FIRST]]
// CHECK: %[[HI:.*]] = llvm.add %[[BEGIN]], %[[LAST]]
// CHECK: llvm.call @graph_nest0(%[[LO]], %[[HI]], %[[DATA]], %[[SIZE]])
// CHECK-LABEL: llvm.func @graph(
// CHECK-SAME: %[[PTR:[^:]*]]: !llvm.ptr, %[[N:[^:]*]]: i64)
// CHECK: %[[CTX:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, ptr, i64)>
// CHECK: llvm.store %[[BEGIN0:.*]], %{{.*}} : i64, !llvm.ptr
// CHECK: llvm.store %[[PTR]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: llvm.store %[[N]], %{{.*}} : i64, !llvm.ptr
// CHECK: %[[COUNT:.*]] = llvm.sub %[[N]], %[[BEGIN0]]
// CHECK: %[[BODY:.*]] = llvm.mlir.addressof @graph_nest0_chunk
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @dgc_parallel_for
// CHECK: %[[FORK:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[NONE:.*]] = llvm.icmp "eq" %[[FORK]]
// CHECK: llvm.cond_br %[[NONE]], ^[[ALONE:.*]], ^[[FORKED:.*]]
// CHECK: ^[[ALONE]]:
// CHECK: llvm.call @graph_nest0_chunk(%[[CTX]], %{{.*}}, %[[COUNT]])
// CHECK: ^[[FORKED]]:
// CHECK: llvm.call %[[FORK]](%[[BODY]], %[[CTX]], %[[COUNT]])
// CHECK-NOT: llvm.call @graph_nest0(
// A nest that is not chunked is called as it was.
// CHECK: llvm.call @graph_nest1(%[[N]])
llvm.func internal @graph_nest0(%begin: i64, %end: i64, %data: !llvm.ptr, %size: i64) attributes {dg.parallel_chunks} {
  llvm.return
}
llvm.func internal @graph_nest1(%size: i64) {
  llvm.return
}
llvm.func @graph(%data: !llvm.ptr, %n: i64) {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  llvm.call @graph_nest0(%c0, %n, %data, %n) : (i64, i64, !llvm.ptr, i64) -> ()
  llvm.call @graph_nest1(%n) : (i64) -> ()
  llvm.return
}

// -----

// expected-error @below {{a function marked dg.parallel_chunks must take (i64 begin, i64 end, ...) and return nothing}}
llvm.func internal @bad(%begin: i32) attributes {dg.parallel_chunks} {
  llvm.return
}
