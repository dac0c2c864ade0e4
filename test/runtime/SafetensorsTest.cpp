//===- SafetensorsTest.cpp - Reading and validating safetensors files -----===//

#include "dgc/runtime/Safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>

#include <unistd.h>

using namespace dgc::runtime;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

struct TestTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  Bytes data;
};

Bytes bf16Bytes(std::initializer_list<uint16_t> values) {
  Bytes bytes;
  for (uint16_t v : values) {
    bytes.push_back(v & 0xff);
    bytes.push_back(v >> 8);
  }
  return bytes;
}

Bytes f32Bytes(std::initializer_list<float> values) {
  Bytes bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

/// A whole file from raw header text and data: the way to write bad files.
Bytes rawFile(const std::string &header, const Bytes &data = {}) {
  Bytes bytes(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
  std::copy(header.begin(), header.end(), bytes.begin() + 8);
  std::copy(data.begin(), data.end(), bytes.begin() + 8 + header.size());
  return bytes;
}

/// A good file: tensors packed in order, header padded to 8 bytes with
/// spaces as the reference writer does.
Bytes goodFile(const std::vector<TestTensor> &tensors,
               const json &metadata = json()) {
  json header = json::object();
  Bytes data;
  for (const TestTensor &t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype},
        {"shape", t.shape},
        {"data_offsets", {data.size(), data.size() + t.data.size()}}};
    data.insert(data.end(), t.data.begin(), t.data.end());
  }
  if (!metadata.is_null())
    header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  return rawFile(text, data);
}

void writeBytes(const fs::path &path, const Bytes &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
}

/// Parses a copy of exactly `bytes`, so ASan sees any read past the end.
Result<SafetensorsHeader> parse(const Bytes &bytes) {
  auto copy = std::make_unique<uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), copy.get());
  return parseSafetensorsHeader(copy.get(), bytes.size(), "x.safetensors");
}

template <typename T>
void expectError(const Result<T> &result,
                 std::initializer_list<std::string> parts) {
  ASSERT_FALSE(result) << "expected an error mentioning " << *parts.begin();
  for (const std::string &part : parts)
    EXPECT_NE(result.error().find(part), std::string::npos)
        << "'" << part << "' is not in: " << result.error();
}

std::vector<TestTensor> sampleTensors() {
  return {{"model.decoder.norm.weight",
           "BF16",
           {2, 3},
           bf16Bytes({0x3f80, 0xc020, 0x4049, 0x0000, 0x8000, 0x7f80})},
          {"model.embed", "F32", {2}, f32Bytes({0.5f, -7.0f})},
          {"model.scalar", "I64", {}, Bytes(8, 1)},
          {"model.empty", "F16", {0, 5}, {}}};
}

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir =
        fs::temp_directory_path() /
        ("dgc-safetensors-" + std::to_string(::getpid()) + "-" + test->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string write(const std::string &name, const Bytes &bytes) {
    writeBytes(dir / name, bytes);
    return (dir / name).string();
  }
  void writeIndex(const json &weightMap) {
    json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weightMap}};
    std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);
  }

  fs::path dir;
};

//===----------------------------------------------------------------------===//
// Good files
//===----------------------------------------------------------------------===//

TEST(SafetensorsDType, NamesAndSizesRoundTrip) {
  for (DType dtype : {DType::Bool, DType::U8, DType::F8E4M3, DType::BF16,
                      DType::F16, DType::I32, DType::F32, DType::I64}) {
    std::optional<DType> parsed = parseDType(dtypeName(dtype));
    ASSERT_TRUE(parsed) << dtypeName(dtype);
    EXPECT_EQ(*parsed, dtype);
  }
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_STREQ(dtypeName(DType::F8E5M2), "F8_E5M2");
  EXPECT_FALSE(parseDType("bf16"));
  EXPECT_FALSE(parseDType(""));
}

TEST_F(SafetensorsTest, ReadsSingleFile) {
  std::string path =
      write("a.safetensors", goodFile(sampleTensors(), {{"format", "pt"}}));
  Result<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->names(), (std::vector<std::string>{
                               "model.decoder.norm.weight", "model.embed",
                               "model.empty", "model.scalar"}));
  EXPECT_EQ(file->metadata().at("format"), "pt");

  std::optional<Tensor> norm = file->find("model.decoder.norm.weight");
  ASSERT_TRUE(norm);
  EXPECT_EQ(norm->dtype(), DType::BF16);
  EXPECT_EQ(norm->shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(norm->numElements(), 6);
  EXPECT_EQ(norm->byteSize(), 12u);
  EXPECT_EQ(norm->data[0], 0x80);
  EXPECT_EQ(norm->data[1], 0x3f);

  std::optional<Tensor> scalar = file->find("model.scalar");
  ASSERT_TRUE(scalar);
  EXPECT_TRUE(scalar->shape().empty());
  EXPECT_EQ(scalar->numElements(), 1);
  EXPECT_EQ(scalar->byteSize(), 8u);

  std::optional<Tensor> empty = file->find("model.empty");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->numElements(), 0);
  EXPECT_EQ(empty->byteSize(), 0u);

  EXPECT_FALSE(file->find("model.missing"));
  EXPECT_FALSE(file->find("model"));
}

TEST_F(SafetensorsTest, AllowsGapsAndEmptyHeader) {
  // Unused bytes between tensors are harmless; sharing bytes is not.
  Bytes gap = rawFile(
      R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})", Bytes(8, 0));
  EXPECT_TRUE(parse(gap)) << parse(gap).error();
  Result<SafetensorsHeader> empty = parse(rawFile("{}"));
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_TRUE(empty->tensors.empty());
}

TEST_F(SafetensorsTest, MovedFileKeepsItsMapping) {
  Result<SafetensorsFile> opened =
      SafetensorsFile::open(write("a.safetensors", goodFile(sampleTensors())));
  ASSERT_TRUE(opened) << opened.error();
  SafetensorsFile moved = std::move(*opened);
  std::optional<Tensor> embed = moved.find("model.embed");
  ASSERT_TRUE(embed);
  Result<std::vector<float>> values = toFloat32(*embed);
  ASSERT_TRUE(values) << values.error();
  EXPECT_EQ(*values, (std::vector<float>{0.5f, -7.0f}));
}

TEST_F(SafetensorsTest, OpensSingleFileCheckpoint) {
  write("model.safetensors", goodFile(sampleTensors()));
  Result<Checkpoint> checkpoint = Checkpoint::open(dir.string());
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  EXPECT_EQ(checkpoint->shards().size(), 1u);
  EXPECT_EQ(checkpoint->names().size(), 4u);
  EXPECT_TRUE(checkpoint->find("model.embed"));
  expectError(checkpoint->get("model.nope"),
              {dir.string(), "no tensor 'model.nope'"});
}

TEST_F(SafetensorsTest, OpensShardedCheckpoint) {
  write("model-00001-of-00002.safetensors",
        goodFile({{"a.weight", "F32", {2}, f32Bytes({1.0f, 2.0f})},
                  {"b.weight", "BF16", {1}, bf16Bytes({0x3f80})}}));
  write("model-00002-of-00002.safetensors",
        goodFile({{"c.weight", "F32", {1}, f32Bytes({3.0f})}}));
  writeIndex({{"a.weight", "model-00001-of-00002.safetensors"},
              {"b.weight", "model-00001-of-00002.safetensors"},
              {"c.weight", "model-00002-of-00002.safetensors"}});
  Result<Checkpoint> checkpoint = Checkpoint::open(dir.string());
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  EXPECT_EQ(checkpoint->shards().size(), 2u);
  EXPECT_EQ(checkpoint->names(),
            (std::vector<std::string>{"a.weight", "b.weight", "c.weight"}));
  Result<Tensor> c = checkpoint->get("c.weight");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(*toFloat32(*c), std::vector<float>{3.0f});
  Result<Tensor> b = checkpoint->get("b.weight");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(*toFloat32(*b), std::vector<float>{1.0f});
  EXPECT_FALSE(checkpoint->find("d.weight"));
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, ConvertsBF16ToF32Exactly) {
  Result<SafetensorsFile> file =
      SafetensorsFile::open(write("a.safetensors", goodFile(sampleTensors())));
  ASSERT_TRUE(file) << file.error();
  Result<std::vector<float>> values =
      toFloat32(*file->find("model.decoder.norm.weight"));
  ASSERT_TRUE(values) << values.error();
  ASSERT_EQ(values->size(), 6u);
  EXPECT_EQ((*values)[0], 1.0f);
  EXPECT_EQ((*values)[1], -2.5f);
  EXPECT_EQ((*values)[2], 3.140625f);
  EXPECT_EQ((*values)[3], 0.0f);
  EXPECT_TRUE(std::signbit((*values)[4]));
  EXPECT_EQ((*values)[5], std::numeric_limits<float>::infinity());
}

TEST(SafetensorsConversion, F16Values) {
  EXPECT_EQ(f16ToFloat(0x3c00), 1.0f);
  EXPECT_EQ(f16ToFloat(0xc100), -2.5f);
  EXPECT_EQ(f16ToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(f16ToFloat(0x0001), std::ldexp(1.0f, -24)); // Smallest subnormal.
  EXPECT_EQ(f16ToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16ToFloat(0x0400), std::ldexp(1.0f, -14)); // Smallest normal.
  EXPECT_TRUE(std::signbit(f16ToFloat(0x8000)));
  EXPECT_EQ(f16ToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16ToFloat(0x7e00)));
  EXPECT_EQ(bf16ToFloat(0x4049), 3.140625f);
}

TEST_F(SafetensorsTest, ConversionRefusesOtherDTypesAndSmallBuffers) {
  Result<SafetensorsFile> file =
      SafetensorsFile::open(write("a.safetensors", goodFile(sampleTensors())));
  ASSERT_TRUE(file) << file.error();
  expectError(toFloat32(*file->find("model.scalar")),
              {"tensor 'model.scalar'", "cannot convert I64"});
  float out[2];
  expectError(copyToFloat32(*file->find("model.decoder.norm.weight"), out, 2),
              {"tensor 'model.decoder.norm.weight'", "6 elements"});
  Result<int64_t> copied = copyToFloat32(*file->find("model.embed"), out, 2);
  ASSERT_TRUE(copied) << copied.error();
  EXPECT_EQ(*copied, 2);
  EXPECT_EQ(out[1], -7.0f);
  expectError(toFloat32(Tensor{}), {"null tensor"});
}

//===----------------------------------------------------------------------===//
// Bad headers
//===----------------------------------------------------------------------===//

/// One tensor entry with the given fields, as header text.
std::string entry(const std::string &name, const std::string &dtype,
                  const std::string &shape, const std::string &offsets) {
  return "{\"" + name + "\": {\"dtype\": " + dtype + ", \"shape\": " + shape +
         ", \"data_offsets\": " + offsets + "}}";
}

struct BadCase {
  const char *what;
  Bytes file;
  std::vector<std::string> expected;
};

TEST(SafetensorsHeader, RejectsBadFilesClearly) {
  const std::string norm = "model.decoder.norm.weight";
  std::vector<BadCase> cases = {
      {"too short", Bytes{1, 2, 3}, {"3 bytes, too short"}},
      {"length past end",
       Bytes{100, 0, 0, 0, 0, 0, 0, 0, '{', '}'},
       {"header length 100 runs past the end", "truncated"}},
      {"absurd length",
       Bytes{0, 0, 0, 0, 0, 1, 0, 0, '{', '}'},
       {"header length 1099511627776 is absurd"}},
      {"not json", rawFile("{\"a\": "), {"header: not valid JSON"}},
      {"garbage", rawFile("\x01\x02\xff"), {"not valid JSON"}},
      {"not an object", rawFile("[1, 2]"), {"must be a JSON object"}},
      {"too deep",
       rawFile(std::string(5000, '[') + std::string(5000, ']')),
       {"nesting deeper than"}},
      {"entry not object",
       rawFile(R"({"w": 3})"),
       {"tensor 'w'", "entry must be an object"}},
      {"missing dtype",
       rawFile(R"({"w": {"shape": [], "data_offsets": [0, 4]}})"),
       {"tensor 'w'", "missing 'dtype'"}},
      {"unknown dtype",
       rawFile(entry("w", "\"Q4_K\"", "[1]", "[0, 1]")),
       {"tensor 'w'", "unknown dtype \"Q4_K\""}},
      {"dtype not string",
       rawFile(entry("w", "7", "[1]", "[0, 1]")),
       {"tensor 'w'", "unknown dtype 7"}},
      {"missing shape",
       rawFile(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})"),
       {"tensor 'w'", "missing 'shape'"}},
      {"shape not array",
       rawFile(entry("w", "\"F32\"", "4", "[0, 16]")),
       {"tensor 'w'", "'shape' must be an array"}},
      {"negative dim",
       rawFile(entry("w", "\"F32\"", "[2, -3]", "[0, 0]")),
       {"tensor 'w'", "shape[1] is -3", "non-negative integers"}},
      {"fractional dim",
       rawFile(entry("w", "\"F32\"", "[1.5]", "[0, 4]")),
       {"tensor 'w'", "shape[0] is 1.5"}},
      {"string dim",
       rawFile(entry("w", "\"F32\"", "[\"2\"]", "[0, 8]")),
       {"tensor 'w'", "shape[0] is \"2\""}},
      {"huge dim",
       rawFile(entry("w", "\"U8\"", "[18446744073709551615]", "[0, 0]")),
       {"tensor 'w'", "shape[0] is 18446744073709551615"}},
      {"element overflow",
       rawFile(entry("w", "\"U8\"", "[4294967296, 4294967296]", "[0, 0]")),
       {"tensor 'w'", "shape [4294967296, 4294967296] has too many elements"}},
      {"element overflow before a zero dim",
       rawFile(entry("w", "\"U8\"", "[4294967296, 4294967296, 0]", "[0, 0]")),
       {"tensor 'w'", "has too many elements"}},
      {"byte overflow",
       rawFile(entry("w", "\"I64\"", "[4611686018427387904]", "[0, 0]")),
       {"tensor 'w'", "of I64 has too many bytes"}},
      {"missing offsets",
       rawFile(R"({"w": {"dtype": "F32", "shape": []}})"),
       {"tensor 'w'", "missing 'data_offsets'"}},
      {"decreasing offsets",
       rawFile(entry("w", "\"U8\"", "[0]", "[5, 3]")),
       {"tensor 'w'", "data_offsets must be two integers", "got [5,3]"}},
      {"one offset",
       rawFile(entry("w", "\"U8\"", "[0]", "[0]")),
       {"tensor 'w'", "data_offsets must be two integers"}},
      {"three offsets",
       rawFile(entry("w", "\"U8\"", "[0]", "[0, 0, 0]")),
       {"tensor 'w'", "data_offsets must be two integers"}},
      {"negative offset",
       rawFile(entry("w", "\"U8\"", "[1]", "[-1, 0]")),
       {"tensor 'w'", "data_offsets must be two integers"}},
      {"fractional offset",
       rawFile(entry("w", "\"U8\"", "[1]", "[0, 1.0]")),
       {"tensor 'w'", "data_offsets must be two integers"}},
      {"offsets not array",
       rawFile(entry("w", "\"U8\"", "[1]", "{}")),
       {"tensor 'w'", "data_offsets must be two integers"}},
      {"wrong byte count",
       rawFile(entry(norm, "\"BF16\"", "[2816]", "[0, 10]"), Bytes(10)),
       {"x.safetensors: tensor 'model.decoder.norm.weight': data_offsets "
        "[0, 10] hold 10 bytes, expected 5632 for BF16 [2816]"}},
      {"past the data",
       rawFile(entry("w", "\"F32\"", "[2]", "[0, 8]"), Bytes(4)),
       {"tensor 'w'", "data_offsets [0, 8] run past the end of the data "
                      "section (4 bytes)"}},
      {"overlap",
       rawFile(R"({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
                   "b": {"dtype": "U8", "shape": [8], "data_offsets": [4, 12]}})",
               Bytes(12)),
       {"tensor 'b'", "data_offsets [4, 12] overlap tensor 'a' at [0, 8]"}},
      {"duplicate name",
       rawFile(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                   "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
               Bytes(2)),
       {"tensor 'w' appears twice"}},
      {"duplicate field",
       rawFile(R"({"w": {"dtype": "U8", "dtype": "F32", "shape": [1],
                         "data_offsets": [0, 1]}})",
               Bytes(1)),
       {"'w': key 'dtype' appears twice"}},
      {"metadata not object",
       rawFile(R"({"__metadata__": 1})"),
       {"'__metadata__' must be an object"}},
      {"metadata value",
       rawFile(R"({"__metadata__": {"format": 1}})"),
       {"'__metadata__': 'format' must be a string"}},
  };
  for (const BadCase &c : cases) {
    SCOPED_TRACE(c.what);
    Result<SafetensorsHeader> result = parse(c.file);
    ASSERT_FALSE(result) << "accepted";
    EXPECT_EQ(result.error().rfind("x.safetensors: ", 0), 0u) << result.error();
    for (const std::string &part : c.expected)
      EXPECT_NE(result.error().find(part), std::string::npos)
          << "'" << part << "' is not in: " << result.error();
  }
}

TEST_F(SafetensorsTest, TruncatedFilesLoadOrFailCleanly) {
  Bytes good = goodFile(sampleTensors(), {{"format", "pt"}});
  for (size_t length = 0; length <= good.size(); ++length) {
    SCOPED_TRACE("length " + std::to_string(length));
    Bytes cut(good.begin(), good.begin() + length);
    Result<SafetensorsHeader> header = parse(cut);
    std::string path = write("cut.safetensors", cut);
    Result<SafetensorsFile> file = SafetensorsFile::open(path);
    EXPECT_EQ(bool(header), bool(file));
    if (length == good.size()) {
      EXPECT_TRUE(file) << file.error();
      continue;
    }
    // Every proper prefix loses data the header promises.
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().rfind(path + ": ", 0), 0u) << file.error();
  }
}

TEST(SafetensorsHeader, CorruptedBytesNeverCrash) {
  Bytes good = goodFile(sampleTensors());
  for (size_t i = 0; i < good.size(); ++i)
    for (uint8_t value : {0x00, 0x22, 0x2d, 0x39, 0x5b, 0x7b, 0xff}) {
      Bytes bad = good;
      bad[i] = value;
      Result<SafetensorsHeader> result = parse(bad);
      EXPECT_TRUE(result || !result.error().empty());
    }
}

//===----------------------------------------------------------------------===//
// Bad checkpoints
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, CheckpointNeedsWeights) {
  expectError(Checkpoint::open(dir.string()), {dir.string(), "holds neither"});
  expectError(Checkpoint::open((dir / "nope").string()),
              {"not a checkpoint directory"});
  std::string path = write("model.safetensors", Bytes{1, 2});
  expectError(Checkpoint::open(dir.string()), {path, "too short"});
}

// A weights file that is there but cannot be reached is named with its
// error, not reported as absent.
TEST_F(SafetensorsTest, CheckpointNamesUnreachableWeights) {
  fs::create_symlink(dir / "model.safetensors", dir / "model.safetensors");
  expectError(Checkpoint::open(dir.string()),
              {"model.safetensors: cannot open: Too many levels of symbolic"});
  fs::remove(dir / "model.safetensors");
  fs::create_symlink(dir / "gone", dir / "model.safetensors.index.json");
  expectError(Checkpoint::open(dir.string()),
              {"model.safetensors.index.json: cannot open: No such file"});
}

TEST_F(SafetensorsTest, OpenReportsMissingAndNonRegularFiles) {
  expectError(SafetensorsFile::open((dir / "none.safetensors").string()),
              {"none.safetensors: cannot open"});
  expectError(SafetensorsFile::open(dir.string()), {"not a regular file"});
}

TEST_F(SafetensorsTest, IndexRefusesEscapingShardNames) {
  write("s.safetensors", goodFile({{"w", "U8", {1}, Bytes{7}}}));
  for (std::string shard : {"../s.safetensors", "/tmp/s.safetensors",
                            "sub/s.safetensors", "..", ""}) {
    SCOPED_TRACE(shard);
    writeIndex({{"w", shard}});
    expectError(Checkpoint::open(dir.string()),
                {"model.safetensors.index.json", "tensor 'w'",
                 "must be a file name inside the checkpoint directory"});
  }
}

TEST_F(SafetensorsTest, IndexMustMatchShards) {
  write("s1.safetensors",
        goodFile({{"a", "U8", {1}, Bytes{1}}, {"b", "U8", {1}, Bytes{2}}}));
  write("s2.safetensors", goodFile({{"c", "U8", {1}, Bytes{3}}}));

  writeIndex({{"a", "s1.safetensors"},
              {"b", "s1.safetensors"},
              {"c", "s1.safetensors"}});
  expectError(Checkpoint::open(dir.string()),
              {"tensor 'c' is mapped to 's1.safetensors', which does not "
               "hold it"});

  writeIndex({{"a", "s1.safetensors"}, {"c", "s2.safetensors"}});
  expectError(Checkpoint::open(dir.string()),
              {"s1.safetensors: tensor 'b' is not in the weight_map"});

  writeIndex({{"a", "s1.safetensors"},
              {"b", "s1.safetensors"},
              {"c", "s3.safetensors"}});
  expectError(Checkpoint::open(dir.string()),
              {"s3.safetensors: cannot open", "No such file"});

  write("s3.safetensors",
        goodFile({{"a", "U8", {1}, Bytes{1}}, {"c", "U8", {1}, Bytes{3}}}));
  expectError(Checkpoint::open(dir.string()),
              {"s3.safetensors: tensor 'a' is also in 's1.safetensors'"});
}

TEST_F(SafetensorsTest, IndexMustBeWellFormed) {
  auto writeText = [&](const std::string &text) {
    std::ofstream(dir / "model.safetensors.index.json") << text;
  };
  writeText("{\"weight_map\": ");
  expectError(Checkpoint::open(dir.string()),
              {"model.safetensors.index.json: not valid JSON"});
  writeText("[]");
  expectError(Checkpoint::open(dir.string()), {"must be a JSON object"});
  writeText(R"({"metadata": {}})");
  expectError(Checkpoint::open(dir.string()), {"needs a 'weight_map'"});
  writeText(R"({"metadata": 3, "weight_map": {"a": "s.safetensors"}})");
  expectError(Checkpoint::open(dir.string()), {"'metadata' must be an object"});
  writeText(R"({"weight_map": {}})");
  expectError(Checkpoint::open(dir.string()), {"lists no tensors"});
  writeText(R"({"weight_map": {"a": 1}})");
  expectError(Checkpoint::open(dir.string()), {"tensor 'a'", "shard 1"});
  writeText(R"({"weight_map": {"a": "s.safetensors", "a": "t.safetensors"}})");
  expectError(Checkpoint::open(dir.string()),
              {"'weight_map': key 'a' appears twice"});
}

} // namespace
