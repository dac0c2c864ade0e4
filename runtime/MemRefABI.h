//===- MemRefABI.h - MLIR memref descriptors as the host code sees them ---===//
//
// A ranked descriptor is { allocated, aligned, offset, sizes[rank],
// strides[rank] }, all 8-byte fields; an unranked one is { rank, pointer to
// a ranked descriptor }. This is the C interface of the host module's
// entry points and of the runtime functions it calls.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_MEMREFABI_H
#define DGC_RUNTIME_MEMREFABI_H

#include <cstdint>
#include <vector>

namespace dgc::runtime {

struct UnrankedDescriptor {
  int64_t rank;
  void *descriptor;
};

/// A read view of a ranked descriptor's fields.
struct DescriptorView {
  void *allocated;
  char *aligned;
  int64_t offset;
  const int64_t *sizes;
  const int64_t *strides;
  int64_t rank;

  static DescriptorView of(const void *descriptor, int64_t rank) {
    auto *p = static_cast<const int64_t *>(descriptor);
    return {reinterpret_cast<void *>(p[0]),
            reinterpret_cast<char *>(p[1]),
            p[2],
            p + 3,
            p + 3 + rank,
            rank};
  }
  static DescriptorView of(const UnrankedDescriptor *u) {
    return of(u->descriptor, u->rank);
  }
  char *data(int64_t elementBytes) const {
    return aligned + offset * elementBytes;
  }
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t i = 0; i < rank; ++i)
      n *= sizes[i];
    return n;
  }
  bool isContiguous() const {
    int64_t expected = 1;
    for (int64_t i = rank - 1; i >= 0; --i) {
      if (sizes[i] != 1 && strides[i] != expected)
        return false;
      expected *= sizes[i];
    }
    return true;
  }
};

/// Storage for a ranked descriptor of a contiguous buffer.
inline std::vector<int64_t> makeDescriptor(const void *data,
                                           const std::vector<int64_t> &shape) {
  int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> d(3 + 2 * rank);
  d[0] = d[1] = reinterpret_cast<int64_t>(data);
  d[2] = 0;
  int64_t stride = 1;
  for (int64_t i = rank - 1; i >= 0; --i) {
    d[3 + i] = shape[i];
    d[3 + rank + i] = stride;
    stride *= shape[i];
  }
  return d;
}

} // namespace dgc::runtime

/// Defined in HostABI.cpp: the strided copy compiled modules call.
extern "C" void memrefCopy(int64_t elementBytes,
                           dgc::runtime::UnrankedDescriptor *src,
                           dgc::runtime::UnrankedDescriptor *dst);

#endif // DGC_RUNTIME_MEMREFABI_H
