//===- SafetensorsFile.cpp - Mapped safetensors files and checkpoints -----===//

#include "dgc/runtime/Safetensors.h"

#include "dgc/runtime/Files.h"

#include "StrictJson.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using nlohmann::json;
namespace fs = std::filesystem;

namespace dgc::runtime {

namespace {
constexpr const char *kSingleFile = "model.safetensors";
constexpr const char *kIndexFile = "model.safetensors.index.json";
constexpr uint64_t kMaxIndexBytes = 100'000'000;

/// Closes a file descriptor on every path out of open().
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0)
      ::close(fd);
  }
};

Error systemError(const std::string &path, const char *what) {
  return Error{path + ": " + what + ": " + std::strerror(errno)};
}

/// A shard must be a plain file name, so the index cannot reach outside the
/// checkpoint directory.
bool isPlainFileName(const std::string &name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

Result<std::string> readSmallFile(const std::string &path, uint64_t limit) {
  return readRegularFile(path, limit);
}
} // namespace

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

Result<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
  // O_NONBLOCK: a FIFO in a file's place must not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return systemError(path, "cannot open");
  FdGuard guard{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0)
    return systemError(path, "cannot stat");
  if (!S_ISREG(info.st_mode))
    return Error{path + ": not a regular file"};

  SafetensorsFile file;
  file.filePath = path;
  file.mappingSize = static_cast<uint64_t>(info.st_size);
  // mmap refuses empty mappings; the parser reports short files itself.
  if (file.mappingSize > 0) {
    void *addr =
        ::mmap(nullptr, file.mappingSize, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED)
      return systemError(path, "cannot map");
    file.mapping = static_cast<const uint8_t *>(addr);
  }
  Result<SafetensorsHeader> header =
      parseSafetensorsHeader(file.mapping, file.mappingSize, path);
  if (!header)
    return Error{header.error()}; // `file` unmaps itself.
  file.parsed = std::move(*header);
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile &&other) noexcept
    : filePath(std::move(other.filePath)), parsed(std::move(other.parsed)),
      mapping(other.mapping), mappingSize(other.mappingSize) {
  other.mapping = nullptr;
  other.mappingSize = 0;
}

SafetensorsFile &SafetensorsFile::operator=(SafetensorsFile &&other) noexcept {
  if (this != &other) {
    unmap();
    filePath = std::move(other.filePath);
    parsed = std::move(other.parsed);
    mapping = other.mapping;
    mappingSize = other.mappingSize;
    other.mapping = nullptr;
    other.mappingSize = 0;
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { unmap(); }

void SafetensorsFile::unmap() {
  if (mapping)
    ::munmap(const_cast<uint8_t *>(mapping), mappingSize);
  mapping = nullptr;
  mappingSize = 0;
}

std::optional<Tensor> SafetensorsFile::find(std::string_view name) const {
  const TensorInfo *info = parsed.find(name);
  if (!info)
    return std::nullopt;
  return Tensor{info, mapping + parsed.dataOffset + info->begin};
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> result;
  for (const TensorInfo &info : parsed.tensors)
    result.push_back(info.name);
  return result;
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

namespace {
/// Reads the index into tensor name -> shard file name.
Result<std::map<std::string, std::string>> readIndex(const std::string &path) {
  Result<std::string> text = readSmallFile(path, kMaxIndexBytes);
  if (!text)
    return Error{text.error()};
  std::string problem;
  std::optional<json> doc = parseStrictJson(*text, 8, "key", problem);
  if (!doc)
    return Error{path + ": " + problem};
  if (!doc->is_object())
    return Error{path + ": must be a JSON object, got " + showJson(*doc)};
  auto metadata = doc->find("metadata");
  if (metadata != doc->end() && !metadata->is_object())
    return Error{path + ": 'metadata' must be an object, got " +
                 showJson(*metadata)};
  auto weightMap = doc->find("weight_map");
  if (weightMap == doc->end() || !weightMap->is_object())
    return Error{path + ": needs a 'weight_map' object of tensor name -> "
                        "shard file"};
  if (weightMap->empty())
    return Error{path + ": 'weight_map' lists no tensors"};
  std::map<std::string, std::string> shardOf;
  for (const auto &[name, shard] : weightMap->items()) {
    if (!shard.is_string() || !isPlainFileName(shard.get<std::string>()))
      return Error{path + ": tensor '" + name + "': shard " + showJson(shard) +
                   " must be a file name inside the checkpoint directory"};
    shardOf[name] = shard.get<std::string>();
  }
  return shardOf;
}
} // namespace

Result<Checkpoint> Checkpoint::open(const std::string &directory) {
  try {
    std::error_code ec;
    if (!fs::is_directory(directory, ec))
      return Error{directory + ": not a checkpoint directory"};
    Checkpoint checkpoint;
    checkpoint.dir = directory;
    // A name that is there but cannot be reached (a symlink loop, a
    // dangling link, a directory without search permission) is opened, so
    // that its error is reported rather than "holds neither".
    auto present = [&](const fs::path &path) -> Result<bool> {
      fs::file_status status = fs::symlink_status(path, ec);
      if (ec && ec != std::errc::no_such_file_or_directory)
        return Error{path.string() + ": cannot open: " + ec.message()};
      return fs::exists(status);
    };
    fs::path single = fs::path(directory) / kSingleFile;
    Result<bool> singlePresent = present(single);
    if (!singlePresent)
      return Error{singlePresent.error()};
    if (*singlePresent) {
      Result<SafetensorsFile> file = SafetensorsFile::open(single.string());
      if (!file)
        return Error{file.error()};
      for (const TensorInfo &info : file->header().tensors)
        checkpoint.shardOf.emplace(info.name, 0);
      checkpoint.files.push_back(std::move(*file));
      return checkpoint;
    }

    std::string indexPath = (fs::path(directory) / kIndexFile).string();
    Result<bool> indexPresent = present(indexPath);
    if (!indexPresent)
      return Error{indexPresent.error()};
    if (!*indexPresent)
      return Error{directory + ": holds neither " + kSingleFile + " nor " +
                   kIndexFile};
    Result<std::map<std::string, std::string>> index = readIndex(indexPath);
    if (!index)
      return Error{index.error()};

    std::map<std::string, size_t> shardIndex;
    for (const auto &[name, shard] : *index) {
      auto [it, added] = shardIndex.emplace(shard, checkpoint.files.size());
      if (added) {
        Result<SafetensorsFile> file =
            SafetensorsFile::open((fs::path(directory) / shard).string());
        if (!file)
          return Error{file.error()};
        checkpoint.files.push_back(std::move(*file));
      }
      if (!checkpoint.files[it->second].find(name))
        return Error{indexPath + ": tensor '" + name + "' is mapped to '" +
                     shard + "', which does not hold it"};
      checkpoint.shardOf.emplace(name, it->second);
    }
    // A tensor missing from the map would be invisible; refuse it.
    for (const auto &[shard, i] : shardIndex)
      for (const TensorInfo &info : checkpoint.files[i].header().tensors) {
        auto listed = index->find(info.name);
        if (listed == index->end())
          return Error{checkpoint.files[i].path() + ": tensor '" + info.name +
                       "' is not in the weight_map of " + kIndexFile};
        if (listed->second != shard)
          return Error{checkpoint.files[i].path() + ": tensor '" + info.name +
                       "' is also in '" + listed->second +
                       "', where the weight_map puts it"};
      }
    return checkpoint;
  } catch (const std::exception &e) {
    return Error{directory + ": cannot open the checkpoint: " + e.what()};
  }
}

std::optional<Tensor> Checkpoint::find(std::string_view name) const {
  auto it = shardOf.find(name);
  if (it == shardOf.end())
    return std::nullopt;
  return files[it->second].find(name);
}

Result<Tensor> Checkpoint::get(std::string_view name) const {
  if (std::optional<Tensor> tensor = find(name))
    return *tensor;
  return Error{dir + ": checkpoint has no tensor '" + std::string(name) + "'"};
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> result;
  for (const auto &entry : shardOf)
    result.push_back(entry.first);
  return result;
}

} // namespace dgc::runtime
