//===- safetensors_header_fuzzer.cpp - libFuzzer target for headers -------===//

#include "dgc/runtime/Safetensors.h"

#include <cstdlib>

using namespace dgc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Result<SafetensorsHeader> header =
      parseSafetensorsHeader(data, size, "fuzz.safetensors");
  if (!header) {
    if (header.error().empty()) // Every failure must say why.
      std::abort();
    return 0;
  }
  // A header that passed must describe bytes inside the input: touch them all
  // through the conversion path so ASan checks the promise.
  for (const TensorInfo &info : header->tensors) {
    if (info.end > header->dataSize ||
        info.byteSize() !=
            static_cast<uint64_t>(info.numElements()) * dtypeSize(info.dtype))
      std::abort();
    Tensor tensor{&info, data + header->dataOffset + info.begin};
    Result<std::vector<float>> values = toFloat32(tensor);
    (void)values;
  }
  return 0;
}
