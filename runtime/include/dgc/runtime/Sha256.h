//===- Sha256.h - SHA-256 digests of module files ---------------*- C++ -*-===//
//
// A compiled module lists the SHA-256 of its manifest and its code in
// SHA256SUMS (the format `sha256sum -c` reads); the runtime checks them on
// load. FIPS 180-4; the runtime links no crypto library for this one use.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_SHA256_H
#define DGC_RUNTIME_SHA256_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dgc::runtime {

class Sha256 {
public:
  Sha256();
  void update(const void *data, size_t size);
  /// The digest as 64 lowercase hex digits; the object is spent after.
  std::string hexDigest();

private:
  void compress(const uint8_t *block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

/// The hex SHA-256 of `bytes`.
std::string sha256Hex(std::string_view bytes);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_SHA256_H
