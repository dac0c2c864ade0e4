//===- Memory.cpp - The stand-in's device and managed memory --------------===//
//
// Managed memory is host memory, zeroed and aligned to 256 bytes, so host
// code may read and write it. Device memory is mapped without access: host
// code that touches it faults, as it would on a GPU, and only the driver's
// copies and memsets open it for their work. A budget
// (DGC_STANDIN_MEMORY, bytes with an optional K, M or G; the H200's by
// default) makes out-of-memory paths reachable. Frees, memsets and
// prefetches must name live allocations; a memset on a capturing stream
// runs when the graph is replayed.
//
//===----------------------------------------------------------------------===//

#include "StandIn.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace dgc::standin {
namespace {

/// Bytes from "1024", "64K", "8G".
unsigned long long parseBytes(const char *text) {
  char *end = nullptr;
  unsigned long long n = std::strtoull(text, &end, 10);
  switch (*end) {
  case 'K':
  case 'k':
    return n << 10;
  case 'M':
  case 'm':
    return n << 20;
  case 'G':
  case 'g':
    return n << 30;
  default:
    return n;
  }
}

/// Managed or device memory: host memory, zeroed, aligned to 256 bytes.
CUresult allocate(CUdeviceptr *out, size_t bytes, bool managed,
                  const char *call) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  if (!out || bytes == 0)
    return s.fail(kInvalidValue, call, "no result pointer, or 0 bytes");
  size_t rounded = (bytes + 255) / 256 * 256;
  if (s.bytesAllocated + rounded > s.memoryBytes)
    return s.fail(
        kOutOfMemory, call,
        std::to_string(bytes) + " bytes more than the " +
            std::to_string(s.memoryBytes - s.bytesAllocated) +
            " left of DGC_STANDIN_MEMORY=" + std::to_string(s.memoryBytes));
  Allocation a{rounded, managed, !managed || rounded >= (1u << 20)};
  void *p = nullptr;
  if (a.mapped) {
    p = mmap(nullptr, rounded, managed ? PROT_READ | PROT_WRITE : PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      p = nullptr;
  } else if ((p = std::aligned_alloc(256, rounded))) {
    std::memset(p, 0, rounded);
  }
  if (!p)
    return s.fail(kOutOfMemory, call, "the host has no memory to stand in");
  *out = reinterpret_cast<CUdeviceptr>(p);
  s.allocations[*out] = a;
  s.bytesAllocated += rounded;
  s.peakBytes = std::max(s.peakBytes, s.bytesAllocated);
  return kSuccess;
}

void release(CUdeviceptr at, const Allocation &a) {
  if (a.mapped)
    munmap(reinterpret_cast<void *>(at), a.bytes);
  else
    std::free(reinterpret_cast<void *>(at));
}

/// The allocation holding [at, at + bytes) for a copy, or a failure.
CUresult copyRange(State &s, CUdeviceptr at, size_t bytes, const char *call,
                   const Allocation *&found) {
  found = s.findAllocation(at, bytes);
  if (!found)
    return s.fail(kInvalidValue, call,
                  "the device range is not inside one allocation");
  return kSuccess;
}

/// The start of the allocation holding `at`.
CUdeviceptr allocationStart(const State &s, CUdeviceptr at) {
  auto it = s.allocations.upper_bound(at);
  return (--it)->first;
}

} // namespace

void withHostAccess(const Allocation &a, CUdeviceptr start,
                    const std::function<void()> &work) {
  void *p = reinterpret_cast<void *>(start);
  if (!a.managed)
    mprotect(p, a.bytes, PROT_READ | PROT_WRITE);
  work();
  if (!a.managed)
    mprotect(p, a.bytes, PROT_NONE);
}

unsigned long long memoryBudget() {
  const char *m = std::getenv("DGC_STANDIN_MEMORY");
  return m && *m ? parseBytes(m) : h200::kMemoryBytes;
}

void State::releaseAll() {
  for (const auto &[at, a] : allocations)
    release(at, a);
  allocations.clear();
  bytesAllocated = 0;
}

const Allocation *State::findAllocation(CUdeviceptr at, size_t bytes) const {
  auto it = allocations.upper_bound(at);
  if (it == allocations.begin())
    return nullptr;
  --it;
  if (at + bytes > it->first + it->second.bytes)
    return nullptr;
  return &it->second;
}

} // namespace dgc::standin

using namespace dgc::standin;

DGC_STANDIN_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  return allocate(pointer, bytes, false, "cuMemAlloc");
}

DGC_STANDIN_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *pointer,
                                              size_t bytes, unsigned flags) {
  if (flags != 1 && flags != 2) {
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    return s.fail(kInvalidValue, "cuMemAllocManaged",
                  "flags must be CU_MEM_ATTACH_GLOBAL or _HOST");
  }
  return allocate(pointer, bytes, true, "cuMemAllocManaged");
}

DGC_STANDIN_EXPORT CUresult cuMemFree_v2(CUdeviceptr pointer) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuMemFree", true))
    return r;
  if (pointer == 0)
    return kSuccess;
  auto it = s.allocations.find(pointer);
  if (it == s.allocations.end())
    return s.fail(kInvalidValue, "cuMemFree",
                  "not the start of a live allocation (freed twice, or never "
                  "allocated here)");
  release(it->first, it->second);
  s.bytesAllocated -= it->second.bytes;
  s.allocations.erase(it);
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuMemsetD8Async(CUdeviceptr at, unsigned char value,
                                            size_t bytes, CUstream stream) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuMemsetD8Async", true))
    return r;
  Stream *target = nullptr;
  if (stream) {
    auto it = s.streams.find(idOf(Kind::Stream, stream));
    if (it == s.streams.end())
      return s.fail(kInvalidHandle, "cuMemsetD8Async", "not a live stream");
    target = &it->second;
  }
  if (!s.findAllocation(at, bytes))
    return s.fail(kInvalidValue, "cuMemsetD8Async",
                  "the range is not inside one allocation");
  if (target && target->capturing) {
    Node node;
    node.memsetAt = at;
    node.memsetBytes = bytes;
    node.memsetValue = value;
    s.graphs[target->graph].push_back(node);
    return kSuccess;
  }
  const Allocation *a = s.findAllocation(at, bytes);
  withHostAccess(*a, allocationStart(s, at), [&] {
    std::memset(reinterpret_cast<void *>(at), value, bytes);
  });
  return kSuccess;
}

// Synchronous copies between the host and one allocation; a capture may
// not hold them (the runtime copies outside recordings).
DGC_STANDIN_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src,
                                            size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuMemcpyHtoD", true))
    return r;
  if (bytes == 0)
    return kSuccess;
  const Allocation *a = nullptr;
  if (CUresult r = copyRange(s, dst, bytes, "cuMemcpyHtoD", a))
    return r;
  if (!src)
    return s.fail(kInvalidValue, "cuMemcpyHtoD", "no host source");
  withHostAccess(*a, allocationStart(s, dst), [&] {
    std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  });
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src,
                                            size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuMemcpyDtoH", true))
    return r;
  if (bytes == 0)
    return kSuccess;
  const Allocation *a = nullptr;
  if (CUresult r = copyRange(s, src, bytes, "cuMemcpyDtoH", a))
    return r;
  if (!dst)
    return s.fail(kInvalidValue, "cuMemcpyDtoH", "no host destination");
  withHostAccess(*a, allocationStart(s, src), [&] {
    std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  });
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuMemGetInfo", true))
    return r;
  if (!free || !total)
    return s.fail(kInvalidValue, "cuMemGetInfo", "null results");
  *total = s.memoryBytes;
  unsigned long long used = s.bytesAllocated;
  *free = s.memoryBytes - std::min(s.memoryBytes, used);
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr at, size_t bytes,
                                                  CUmemLocation location,
                                                  unsigned flags,
                                                  CUstream stream) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuMemPrefetchAsync", true))
    return r;
  const Allocation *a = s.findAllocation(at, bytes);
  if (!a || !a->managed)
    return s.fail(kInvalidValue, "cuMemPrefetchAsync",
                  "the range is not inside one managed allocation");
  // CU_MEM_LOCATION_TYPE_DEVICE (1) of the one device, or the host (2).
  if (flags != 0 ||
      !((location.type == 1 && location.id == 0) || location.type == 2))
    return s.fail(kInvalidValue, "cuMemPrefetchAsync",
                  "the location must be device 0 or the host; flags 0");
  if (stream && !s.streams.count(idOf(Kind::Stream, stream)))
    return s.fail(kInvalidHandle, "cuMemPrefetchAsync", "not a live stream");
  return kSuccess;
}

DGC_STANDIN_EXPORT size_t dgcStandInBytesAllocated() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().bytesAllocated;
}

DGC_STANDIN_EXPORT size_t dgcStandInPeakBytesAllocated() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().peakBytes;
}

/// The memory budget from now on (0: the H200's, or DGC_STANDIN_MEMORY's).
DGC_STANDIN_EXPORT void dgcStandInSetMemoryLimit(size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.memoryBytes = bytes ? bytes : memoryBudget();
}
