//===- Safetensors.cpp - Safetensors dtypes, headers and conversion -------===//

#include "dgc/runtime/Safetensors.h"

#include "StrictJson.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using nlohmann::json;

// Safetensors data is little-endian and is read here by memcpy.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader assumes a little-endian host"
#endif

namespace dgc::runtime {

namespace {
struct DTypeEntry {
  DType dtype;
  const char *name;
  uint64_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::F8E4M3, "F8_E4M3", 1},
    {DType::F8E5M2, "F8_E5M2", 1}, {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},        {DType::F32, "F32", 4},
    {DType::U64, "U64", 8},        {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},
};

const DTypeEntry &entryOf(DType dtype) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.dtype == dtype)
      return entry;
  return kDTypes[0]; // Unreachable for a valid enumerator.
}

/// Safetensors' own limit; a bigger length means a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
/// A valid header nests 3 deep (header, tensor, shape); leave some slack.
constexpr int kMaxHeaderDepth = 8;

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string formatRange(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// Nonnegative integers that fit int64 (nlohmann keeps them as unsigned).
std::optional<uint64_t> asIndex(const json &value) {
  uint64_t index = 0;
  if (value.is_number_unsigned())
    index = value.get<uint64_t>();
  else if (value.is_number_integer() && value.get<int64_t>() >= 0)
    index = static_cast<uint64_t>(value.get<int64_t>());
  else
    return std::nullopt;
  if (index > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return index;
}

/// Builds the errors of one file, optionally about one tensor.
class Reporter {
public:
  explicit Reporter(std::string_view file) : file(file) {}
  Error operator()(const std::string &message) const {
    return Error{file + ": " + message};
  }
  Error operator()(const std::string &tensor,
                   const std::string &message) const {
    return Error{file + ": tensor '" + tensor + "': " + message};
  }

private:
  std::string file;
};

std::optional<Error> parseShape(const json &entry, TensorInfo &info,
                                const Reporter &fail) {
  auto it = entry.find("shape");
  if (it == entry.end())
    return fail(info.name, "missing 'shape'");
  if (!it->is_array())
    return fail(info.name, "'shape' must be an array of non-negative "
                           "integers, got " +
                               showJson(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    std::optional<uint64_t> dim = asIndex((*it)[i]);
    if (!dim)
      return fail(info.name, "shape[" + std::to_string(i) + "] is " +
                                 showJson((*it)[i]) +
                                 "; dims must be non-negative integers");
    info.shape.push_back(static_cast<int64_t>(*dim));
  }
  // The product of the nonzero dims must fit int64, even when a zero dim
  // makes the tensor empty: then every partial product (and stride) fits.
  uint64_t count = 1;
  const uint64_t limit = std::numeric_limits<int64_t>::max();
  for (int64_t dim : info.shape) {
    if (dim == 0)
      continue;
    if (count > limit / static_cast<uint64_t>(dim))
      return fail(info.name, "shape " + formatShape(info.shape) +
                                 " has too many elements to count");
    count *= static_cast<uint64_t>(dim);
  }
  if (info.numElements() > 0 &&
      count > std::numeric_limits<uint64_t>::max() / dtypeSize(info.dtype))
    return fail(info.name, "shape " + formatShape(info.shape) + " of " +
                               dtypeName(info.dtype) +
                               " has too many bytes to count");
  return std::nullopt;
}

std::optional<Error> parseOffsets(const json &entry, TensorInfo &info,
                                  uint64_t dataSize, const Reporter &fail) {
  auto it = entry.find("data_offsets");
  if (it == entry.end())
    return fail(info.name, "missing 'data_offsets'");
  std::optional<uint64_t> begin, end;
  if (it->is_array() && it->size() == 2) {
    begin = asIndex((*it)[0]);
    end = asIndex((*it)[1]);
  }
  if (!begin || !end || *begin > *end)
    return fail(info.name, "data_offsets must be two integers [begin, end] "
                           "with 0 <= begin <= end, got " +
                               showJson(*it));
  info.begin = *begin;
  info.end = *end;
  // parseShape proved this product fits.
  uint64_t expected =
      static_cast<uint64_t>(info.numElements()) * dtypeSize(info.dtype);
  if (info.byteSize() != expected)
    return fail(info.name, "data_offsets " + formatRange(*begin, *end) +
                               " hold " + std::to_string(info.byteSize()) +
                               " bytes, expected " + std::to_string(expected) +
                               " for " + dtypeName(info.dtype) + " " +
                               formatShape(info.shape));
  if (info.end > dataSize)
    return fail(info.name, "data_offsets " + formatRange(*begin, *end) +
                               " run past the end of the data section (" +
                               std::to_string(dataSize) + " bytes)");
  return std::nullopt;
}

Result<TensorInfo> parseTensor(const std::string &name, const json &entry,
                               uint64_t dataSize, const Reporter &fail) {
  TensorInfo info;
  info.name = name;
  if (!entry.is_object())
    return fail(name, "entry must be an object, got " + showJson(entry));
  auto dtype = entry.find("dtype");
  if (dtype == entry.end())
    return fail(name, "missing 'dtype'");
  std::optional<DType> parsed;
  if (dtype->is_string())
    parsed = parseDType(dtype->get<std::string>());
  if (!parsed)
    return fail(name, "unknown dtype " + showJson(*dtype));
  info.dtype = *parsed;
  if (std::optional<Error> error = parseShape(entry, info, fail))
    return *error;
  if (std::optional<Error> error = parseOffsets(entry, info, dataSize, fail))
    return *error;
  return info;
}

std::optional<Error> parseMetadata(const json &value,
                                   std::map<std::string, std::string> &out,
                                   const Reporter &fail) {
  if (!value.is_object())
    return fail("'__metadata__' must be an object of strings, got " +
                showJson(value));
  for (const auto &[key, item] : value.items()) {
    if (!item.is_string())
      return fail("'__metadata__': '" + key + "' must be a string, got " +
                  showJson(item));
    out[key] = item.get<std::string>();
  }
  return std::nullopt;
}

/// Tensors may leave gaps but never share bytes. Empty tensors own no bytes.
std::optional<Error> checkOverlaps(const std::vector<TensorInfo> &tensors,
                                   const Reporter &fail) {
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &info : tensors)
    if (info.byteSize() > 0)
      byOffset.push_back(&info);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return std::make_pair(a->begin, a->end) <
                     std::make_pair(b->begin, b->end);
            });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const TensorInfo &prev = *byOffset[i - 1], &cur = *byOffset[i];
    if (cur.begin < prev.end)
      return fail(cur.name, "data_offsets " + formatRange(cur.begin, cur.end) +
                                " overlap tensor '" + prev.name + "' at " +
                                formatRange(prev.begin, prev.end));
  }
  return std::nullopt;
}

Result<SafetensorsHeader> parseHeader(const uint8_t *bytes, uint64_t size,
                                      const Reporter &fail) {
  if (size < 8)
    return fail("file is " + std::to_string(size) +
                " bytes, too short for the 8-byte header length");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | bytes[i];
  if (length > kMaxHeaderBytes)
    return fail("header length " + std::to_string(length) +
                " is absurd (the limit is " + std::to_string(kMaxHeaderBytes) +
                " bytes); not a safetensors file?");
  if (length > size - 8)
    return fail("header length " + std::to_string(length) +
                " runs past the end of the file (" + std::to_string(size - 8) +
                " bytes follow the length); truncated file?");

  SafetensorsHeader header;
  header.dataOffset = 8 + length;
  header.dataSize = size - header.dataOffset;
  std::string problem;
  std::optional<json> doc = parseStrictJson(
      std::string_view(reinterpret_cast<const char *>(bytes + 8), length),
      kMaxHeaderDepth, "tensor", problem);
  if (!doc)
    return fail("header: " + problem);
  if (!doc->is_object())
    return fail("header must be a JSON object, got " + showJson(*doc));

  for (const auto &[key, value] : doc->items()) {
    if (key == "__metadata__") {
      if (std::optional<Error> error =
              parseMetadata(value, header.metadata, fail))
        return *error;
      continue;
    }
    Result<TensorInfo> info = parseTensor(key, value, header.dataSize, fail);
    if (!info)
      return Error{info.error()};
    header.tensors.push_back(std::move(*info));
  }
  // Object items come sorted by key, which find() relies on; sort anyway in
  // case nlohmann is ever configured to keep insertion order.
  std::sort(
      header.tensors.begin(), header.tensors.end(),
      [](const TensorInfo &a, const TensorInfo &b) { return a.name < b.name; });
  if (std::optional<Error> error = checkOverlaps(header.tensors, fail))
    return *error;
  return header;
}
} // namespace

const char *dtypeName(DType dtype) { return entryOf(dtype).name; }

uint64_t dtypeSize(DType dtype) { return entryOf(dtype).size; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeEntry &entry : kDTypes)
    if (name == entry.name)
      return entry.dtype;
  return std::nullopt;
}

int64_t TensorInfo::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

const TensorInfo *SafetensorsHeader::find(std::string_view name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorInfo &info, std::string_view key) {
                               return info.name < key;
                             });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

Result<SafetensorsHeader> parseSafetensorsHeader(const uint8_t *bytes,
                                                 uint64_t size,
                                                 std::string_view fileName) {
  Reporter fail(fileName);
  try {
    return parseHeader(bytes, size, fail);
  } catch (const std::exception &e) {
    // Only allocation failures should get here; keep the promise anyway.
    return fail(std::string("cannot read the header: ") + e.what());
  }
}

uint16_t floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000) // NaN stays NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float bf16ToFloat(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

float f16ToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t word;
  if (exponent == 0x1f) { // Inf and NaN keep their payload.
    word = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) { // Rebias 15 -> 127.
    word = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else { // Zero and subnormals: mantissa * 2^-24, exact in float.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

namespace {
std::optional<Error> checkConvertible(const Tensor &tensor) {
  if (!tensor.info || (!tensor.data && tensor.byteSize() > 0))
    return Error{"toFloat32: null tensor"};
  DType dtype = tensor.dtype();
  if (dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16)
    return std::nullopt;
  return Error{"tensor '" + tensor.name() + "': cannot convert " +
               dtypeName(dtype) + " to float32 (only F32, BF16 and F16)"};
}
} // namespace

Result<int64_t> copyToFloat32(const Tensor &tensor, float *out,
                              int64_t capacity) {
  if (std::optional<Error> error = checkConvertible(tensor))
    return *error;
  int64_t count = tensor.numElements();
  if (count > capacity)
    return Error{"tensor '" + tensor.name() + "': has " +
                 std::to_string(count) + " elements, the output holds " +
                 std::to_string(capacity)};
  // memcpy per element: the data section gives no alignment guarantee.
  const uint8_t *src = tensor.data;
  switch (tensor.dtype()) {
  case DType::F32:
    if (count > 0)
      std::memcpy(out, src, static_cast<size_t>(count) * sizeof(float));
    return count;
  case DType::BF16:
  case DType::F16: {
    bool isBF16 = tensor.dtype() == DType::BF16;
    for (int64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, src + 2 * i, sizeof(bits));
      out[i] = isBF16 ? bf16ToFloat(bits) : f16ToFloat(bits);
    }
    return count;
  }
  default:
    return count; // Unreachable: checkConvertible refused the rest.
  }
}

Result<std::vector<float>> toFloat32(const Tensor &tensor) {
  if (std::optional<Error> error = checkConvertible(tensor))
    return *error;
  try {
    std::vector<float> values(tensor.numElements());
    Result<int64_t> copied = copyToFloat32(tensor, values.data(),
                                           static_cast<int64_t>(values.size()));
    if (!copied)
      return Error{copied.error()};
    return values;
  } catch (const std::exception &e) {
    return Error{"tensor '" + tensor.name() + "': " + e.what()};
  }
}

} // namespace dgc::runtime
