//===- RandomWeights.cpp - A weight arena without a checkpoint ------------===//
//
// Benchmarks of the 26B-A4B shape cannot ship 52 GB of weights: the cost of
// a step does not depend on their values, so the arena is filled with small
// uniform values instead, on every core (a splitmix64 stream per chunk, so
// the result does not depend on the number of threads), tensor by tensor
// (through a host buffer when the arena is device memory).
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"

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

Status CompiledModule::bindRandomWeights(uint64_t seed, float scale) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  // Chunks are numbered across the arena, so each chunk's values depend
  // on the seed and its place alone.
  uint64_t firstChunk = 0;
  for (const WeightSpec &w : manifest_.weights) {
    if (w.dtype != DType::F32 && w.dtype != DType::BF16)
      return Error{"tensor '" + w.name + "': random " + dtypeName(w.dtype) +
                   " weights are not supported"};
    int64_t n = 1;
    for (int64_t d : w.shape)
      n *= d;
    int64_t chunks = (n + kChunkElements - 1) / kChunkElements;
    Status written = writeWeight(w, [&](uint8_t *data) -> Status {
      auto fill = [&](int64_t chunk) {
        int64_t first = chunk * kChunkElements;
        fillChunk(data, w.dtype, first, std::min(kChunkElements, n - first),
                  seed + firstChunk + chunk, scale);
      };
      if (chunks <= 1) {
        if (chunks)
          fill(0);
        return Status();
      }
      std::vector<std::thread> workers;
      for (unsigned t = 0; t < std::min<int64_t>(threads, chunks); ++t)
        workers.emplace_back([&, t] {
          for (int64_t c = t; c < chunks; c += threads)
            fill(c);
        });
      for (std::thread &worker : workers)
        worker.join();
      return Status();
    });
    if (!written)
      return written;
    firstChunk += chunks;
  }
  weightsBound_ = true;
  return placeArenaOnDevice();
}

Status CompiledModule::placeArenaOnDevice() const {
  // Device memory is where the weights were copied to already.
  if (device_ != Device::Cuda || deviceMemory_)
    return Status();
  Result<CudaDevice *> gpu = CudaDevice::get();
  if (!gpu)
    return Error{"the cuda device is unavailable: " + gpu.error()};
  return (*gpu)->prefetchToDevice(arena_, manifest_.weightBytes);
}

} // namespace dgc::runtime
