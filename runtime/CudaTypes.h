//===- CudaTypes.h - The CUDA driver's C types ------------------*- C++ -*-===//
//
// The runtime opens the driver at run time and includes no cuda.h; the few
// handle and value types its calls take are declared here once, for the
// runtime (CudaDriver.h) and for the tests' stand-in driver
// (test/standin-cuda), which implements those calls.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_CUDATYPES_H
#define DGC_RUNTIME_CUDATYPES_H

namespace dgc::runtime::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
/// cuda.h's CUmemLocation: a type (1: a device) and the device's ordinal.
struct CUmemLocation {
  int type;
  int id;
};

} // namespace dgc::runtime::cuda

#endif // DGC_RUNTIME_CUDATYPES_H
