//===- SafetensorsWriter.cpp - Writes tensors as one .safetensors file ----===//

#include "SafetensorsWriter.h"

#include <fstream>

namespace dgc::runtime {

Status writeSafetensors(const std::string &path,
                        const std::vector<SafetensorsEntry> &entries) {
  std::string header = "{";
  size_t offset = 0;
  for (const SafetensorsEntry &e : entries) {
    const char *dtype = dtypeName(e.dtype);
    std::string shape;
    for (int64_t d : e.shape)
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    header += (header.size() > 1 ? ",\"" : "\"") + e.name + "\":{\"dtype\":\"" +
              dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + e.bytes) +
              "]}";
    offset += e.bytes;
  }
  header += "}";
  // The data starts 8-byte aligned; the format pads the header with spaces.
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file)
    return Error{"cannot write " + path};
  uint64_t length = header.size();
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<unsigned char>(length >> (8 * i));
  file.write(reinterpret_cast<const char *>(prefix), 8);
  file.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const SafetensorsEntry &e : entries)
    file.write(static_cast<const char *>(e.data),
               static_cast<std::streamsize>(e.bytes));
  if (!file.flush())
    return Error{"cannot write " + path + " (disk full?)"};
  return {};
}

} // namespace dgc::runtime
