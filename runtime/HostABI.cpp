//===- HostABI.cpp - The C functions a host module calls ------------------===//
//
// `memrefCopy`, which LLVM lowering uses for strided copies, and
// `__truncsfbf2`, LLVM's libcall for rounding a float to bf16 where it is
// not expanded inline, which some C runtimes lack (libgcc before GCC 13). The
// KV cache needs no function: graphs read and write it through the buffers
// of CacheBinding.h.
//
//===----------------------------------------------------------------------===//

#include "MemRefABI.h"

#include "dgc/runtime/Safetensors.h"

#include <cstring>
#include <vector>

using namespace dgc::runtime;

extern "C" {

/// Copies between two memrefs of the same shape, any strides.
void memrefCopy(int64_t elementBytes, UnrankedDescriptor *src,
                UnrankedDescriptor *dst) {
  DescriptorView s = DescriptorView::of(src), d = DescriptorView::of(dst);
  int64_t rank = s.rank, count = s.numElements();
  if (count == 0)
    return;
  std::vector<int64_t> index(rank, 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t so = s.offset, dof = d.offset;
    for (int64_t i = 0; i < rank; ++i) {
      so += index[i] * s.strides[i];
      dof += index[i] * d.strides[i];
    }
    std::memcpy(d.aligned + dof * elementBytes, s.aligned + so * elementBytes,
                elementBytes);
    for (int64_t i = rank - 1; i >= 0; --i) {
      if (++index[i] < s.sizes[i])
        break;
      index[i] = 0;
    }
  }
}

/// A float rounded to bf16 (to nearest even; NaN stays NaN). The x86-64
/// ABI returns a bf16 in the low 16 bits of xmm0, as a float is returned:
/// the float returned carries the bf16's bits there.
float __truncsfbf2(float value) {
  uint32_t bits = floatToBF16(value);
  float carrier;
  std::memcpy(&carrier, &bits, sizeof carrier);
  return carrier;
}

} // extern "C"
