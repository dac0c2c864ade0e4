//===- HostABI.cpp - The C functions a host module calls ------------------===//
//
// `memrefCopy`, which LLVM lowering uses for strided copies. The KV cache
// needs no function: graphs read and write it through the buffers of
// CacheBinding.h.
//
//===----------------------------------------------------------------------===//

#include "MemRefABI.h"

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

} // extern "C"
