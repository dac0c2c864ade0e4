//===- Safetensors.h - Memory-mapped safetensors checkpoints ----*- C++ -*-===//
//
// Reads Hugging Face safetensors checkpoints: one `model.safetensors` or
// shards listed by `model.safetensors.index.json`. Files are memory-mapped
// read-only and every header is validated before a tensor is handed out, so
// the rest of the runtime can trust dtypes, shapes and byte ranges.
//
// Nothing here throws: failures come back as a Result whose message names the
// file and the tensor. Plain C++17; the JSON parser stays in the .cpp file.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_SAFETENSORS_H
#define DGC_RUNTIME_SAFETENSORS_H

#include "dgc/runtime/Result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dgc::runtime {

/// The element types of the safetensors format.
enum class DType {
  Bool,
  U8,
  I8,
  F8E4M3,
  F8E5M2,
  U16,
  I16,
  F16,
  BF16,
  U32,
  I32,
  F32,
  U64,
  I64,
  F64,
};

/// The spelling in safetensors headers: "BF16", "F8_E4M3", ...
const char *dtypeName(DType dtype);
/// Bytes per element.
uint64_t dtypeSize(DType dtype);
std::optional<DType> parseDType(std::string_view name);

/// One tensor as the header describes it.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Byte range [begin, end) relative to the start of the data section.
  uint64_t begin = 0;
  uint64_t end = 0;

  uint64_t byteSize() const { return end - begin; }
  /// Product of the dims (1 for a scalar); validated not to overflow.
  int64_t numElements() const;
};

/// A validated header. Tensors are sorted by name.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  /// Offset of the data section in the file: 8 + header length.
  uint64_t dataOffset = 0;
  uint64_t dataSize = 0;

  const TensorInfo *find(std::string_view name) const;
};

/// Parses and validates the safetensors file held in `bytes[0, size)`: the
/// header and that every tensor's byte range fits the data section, with no
/// overlaps. `fileName` is only used in messages.
Result<SafetensorsHeader> parseSafetensorsHeader(const uint8_t *bytes,
                                                 uint64_t size,
                                                 std::string_view fileName);

/// A tensor inside an open file; valid while the file stays open. `data` may
/// be unaligned.
struct Tensor {
  const TensorInfo *info = nullptr;
  const uint8_t *data = nullptr;

  const std::string &name() const { return info->name; }
  DType dtype() const { return info->dtype; }
  const std::vector<int64_t> &shape() const { return info->shape; }
  int64_t numElements() const { return info->numElements(); }
  uint64_t byteSize() const { return info->byteSize(); }
};

/// One safetensors file, memory-mapped read-only. Move-only.
class SafetensorsFile {
public:
  static Result<SafetensorsFile> open(const std::string &path);

  SafetensorsFile(SafetensorsFile &&other) noexcept;
  SafetensorsFile &operator=(SafetensorsFile &&other) noexcept;
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;
  ~SafetensorsFile();

  const std::string &path() const { return filePath; }
  const SafetensorsHeader &header() const { return parsed; }
  const std::map<std::string, std::string> &metadata() const {
    return parsed.metadata;
  }
  std::optional<Tensor> find(std::string_view name) const;
  /// Sorted.
  std::vector<std::string> names() const;

private:
  SafetensorsFile() = default;
  void unmap();

  std::string filePath;
  SafetensorsHeader parsed;
  const uint8_t *mapping = nullptr;
  uint64_t mappingSize = 0;
};

/// The weights of a model: a directory holding `model.safetensors`, or
/// `model.safetensors.index.json` and the shards it names. The single file
/// wins when both exist, as in Hugging Face transformers.
class Checkpoint {
public:
  static Result<Checkpoint> open(const std::string &directory);

  const std::string &directory() const { return dir; }
  const std::vector<SafetensorsFile> &shards() const { return files; }
  std::optional<Tensor> find(std::string_view name) const;
  /// Like find, with an error naming the checkpoint when absent.
  Result<Tensor> get(std::string_view name) const;
  /// Every tensor of every shard, sorted.
  std::vector<std::string> names() const;

private:
  std::string dir;
  std::vector<SafetensorsFile> files;
  /// Tensor name -> index in `files`.
  std::map<std::string, size_t, std::less<>> shardOf;
};

/// Widens one bfloat16 / IEEE half (given as raw bits) to float.
float bf16ToFloat(uint16_t bits);
/// Rounds to the nearest bfloat16 (ties to even); NaN stays NaN.
uint16_t floatToBF16(float value);
float f16ToFloat(uint16_t bits);

/// Copies an F32, BF16 or F16 tensor into `out`, which holds `capacity`
/// floats; returns the number of elements written.
Result<int64_t> copyToFloat32(const Tensor &tensor, float *out,
                              int64_t capacity);
Result<std::vector<float>> toFloat32(const Tensor &tensor);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_SAFETENSORS_H
