//===- RandomWeights.cpp - A weight arena without a checkpoint ------------===//
//
// Benchmarks of the 26B-A4B shape cannot ship 52 GB of weights: the cost of
// a step does not depend on their values, so the arena is filled with small
// uniform values instead, on every core (a splitmix64 stream per chunk, so
// the result does not depend on the number of threads).
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/HostModule.h"

#include "CudaDriver.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace dgc::runtime {

namespace {

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Values in [-scale, scale) from the top 24 bits of a draw.
float uniform(uint64_t &state, float scale) {
  float unit = static_cast<float>(splitmix64(state) >> 40) * (1.0f / 16777216);
  return (2 * unit - 1) * scale;
}

constexpr int64_t kChunkElements = int64_t(1) << 20;

void fillChunk(uint8_t *data, DType dtype, int64_t first, int64_t count,
               uint64_t seed, float scale) {
  uint64_t state = seed ^ (static_cast<uint64_t>(first) * 0x632be59bd9b4e019ull);
  if (dtype == DType::F32) {
    auto *out = reinterpret_cast<float *>(data) + first;
    for (int64_t i = 0; i < count; ++i)
      out[i] = uniform(state, scale);
  } else {
    auto *out = reinterpret_cast<uint16_t *>(data) + first;
    for (int64_t i = 0; i < count; ++i)
      out[i] = floatToBF16(uniform(state, scale));
  }
}

} // namespace

Status HostModule::bindRandomWeights(uint64_t seed, float scale) {
  struct Chunk {
    uint8_t *data;
    DType dtype;
    int64_t first, count;
  };
  std::vector<Chunk> chunks;
  for (const WeightSpec &w : manifest_.weights) {
    if (w.dtype != DType::F32 && w.dtype != DType::BF16)
      return Error{"tensor '" + w.name + "': random " + dtypeName(w.dtype) +
                   " weights are not supported"};
    int64_t n = 1;
    for (int64_t d : w.shape)
      n *= d;
    for (int64_t first = 0; first < n; first += kChunkElements)
      chunks.push_back({arena_ + w.offset, w.dtype, first,
                        std::min(kChunkElements, n - first)});
  }
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (size_t i = t; i < chunks.size(); i += threads)
        fillChunk(chunks[i].data, chunks[i].dtype, chunks[i].first,
                  chunks[i].count, seed + i, scale);
    });
  for (std::thread &w : workers)
    w.join();
  weightsBound_ = true;
  return placeArenaOnDevice();
}

Status HostModule::placeArenaOnDevice() const {
  if (device_ != Device::Cuda)
    return Status();
  Result<CudaDevice *> gpu = CudaDevice::get();
  if (!gpu)
    return Error{"the cuda device is unavailable: " + gpu.error()};
  return (*gpu)->prefetchToDevice(arena_, manifest_.weightBytes);
}

} // namespace dgc::runtime
