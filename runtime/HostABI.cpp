//===- HostABI.cpp - The C functions a host module calls ------------------===//
//
// The KV-cache functions that lower-dg-runtime-interface emits calls to, and
// `memrefCopy`, which LLVM lowering uses for strided copies. The cache handle
// a graph receives is a CacheBinding: one pool of the KVCache and the batch's
// requests. Errors cannot unwind through compiled code: the first one is kept
// in the binding and the executor reports it after the call.
//
//===----------------------------------------------------------------------===//

#include "CacheBinding.h"
#include "MemRefABI.h"

#include <algorithm>
#include <cstring>

using namespace dgc::runtime;

namespace {

void record(CacheBinding *binding, const std::string &message) {
  if (binding->error.empty())
    binding->error = message;
}

void writeRows(void *handle, int64_t layer, UnrankedDescriptor *k,
               UnrankedDescriptor *v, UnrankedDescriptor *pos, int32_t scratch,
               int elementBytes) {
  auto *binding = static_cast<CacheBinding *>(handle);
  DescriptorView keys = DescriptorView::of(k), values = DescriptorView::of(v),
                 positions = DescriptorView::of(pos);
  if (keys.rank != 4 || positions.rank != 2 || !keys.isContiguous() ||
      !values.isContiguous() || !positions.isContiguous()) {
    record(binding, "kv_cache_write: unexpected buffer layout");
    return;
  }
  int64_t batch = keys.sizes[0], tokens = keys.sizes[1];
  if (batch != static_cast<int64_t>(binding->requests.size())) {
    record(binding, "kv_cache_write: batch of " + std::to_string(batch) +
                        " rows for " +
                        std::to_string(binding->requests.size()) + " requests");
    return;
  }
  int64_t rowBytes = keys.sizes[2] * keys.sizes[3] * elementBytes;
  auto *posData = reinterpret_cast<const int32_t *>(positions.data(4));
  for (int64_t b = 0; b < batch; ++b) {
    Status s = binding->cache->write(
        binding->requests[b], binding->pool, layer, posData + b * tokens,
        tokens, keys.data(elementBytes) + b * tokens * rowBytes,
        values.data(elementBytes) + b * tokens * rowBytes,
        scratch ? WriteMode::Scratch : WriteMode::Commit);
    if (!s) {
      record(binding, s.error());
      return;
    }
  }
}

void readRows(void *handle, int64_t layer, UnrankedDescriptor *lengths,
              UnrankedDescriptor *k, UnrankedDescriptor *v,
              UnrankedDescriptor *pos) {
  auto *binding = static_cast<CacheBinding *>(handle);
  DescriptorView lens = DescriptorView::of(lengths),
                 keys = DescriptorView::of(k), values = DescriptorView::of(v),
                 positions = DescriptorView::of(pos);
  int64_t batch = lens.sizes[0];
  if (batch != static_cast<int64_t>(binding->requests.size()) ||
      keys.rank != 4 || keys.sizes[0] != batch) {
    record(binding, "kv_cache_read: batch does not match the requests");
    return;
  }
  const PoolSpec &spec = binding->cache->pools()[binding->pool];
  auto *lenData = reinterpret_cast<const int32_t *>(lens.data(4));
  std::vector<int64_t> lengths64(lenData, lenData + batch);
  Status s = binding->cache->readBatch(
      binding->requests.data(), lengths64.data(), batch, binding->pool, layer,
      keys.sizes[1], keys.data(spec.elementBytes),
      values.data(spec.elementBytes),
      reinterpret_cast<int32_t *>(positions.data(4)));
  if (!s)
    record(binding, s.error());
}

} // namespace

extern "C" {

void _mlir_ciface_dgc_kv_cache_write_f32(void *cache, int64_t layer,
                                         UnrankedDescriptor *k,
                                         UnrankedDescriptor *v,
                                         UnrankedDescriptor *pos,
                                         int32_t scratch) {
  writeRows(cache, layer, k, v, pos, scratch, 4);
}

void _mlir_ciface_dgc_kv_cache_write_bf16(void *cache, int64_t layer,
                                          UnrankedDescriptor *k,
                                          UnrankedDescriptor *v,
                                          UnrankedDescriptor *pos,
                                          int32_t scratch) {
  writeRows(cache, layer, k, v, pos, scratch, 2);
}

int64_t _mlir_ciface_dgc_kv_cache_rows(void *cache,
                                       UnrankedDescriptor *lengths) {
  DescriptorView lens = DescriptorView::of(lengths);
  auto *data = reinterpret_cast<const int32_t *>(lens.data(4));
  int64_t rows = 0;
  for (int64_t i = 0; i < lens.sizes[0]; ++i)
    rows = std::max<int64_t>(rows, data[i]);
  return rows;
}

void _mlir_ciface_dgc_kv_cache_read_f32(void *cache, int64_t layer,
                                        UnrankedDescriptor *lengths,
                                        UnrankedDescriptor *k,
                                        UnrankedDescriptor *v,
                                        UnrankedDescriptor *pos) {
  readRows(cache, layer, lengths, k, v, pos);
}

void _mlir_ciface_dgc_kv_cache_read_bf16(void *cache, int64_t layer,
                                         UnrankedDescriptor *lengths,
                                         UnrankedDescriptor *k,
                                         UnrankedDescriptor *v,
                                         UnrankedDescriptor *pos) {
  readRows(cache, layer, lengths, k, v, pos);
}

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
