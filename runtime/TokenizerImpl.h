//===- TokenizerImpl.h - Internals of the text tokenizer --------*- C++ -*-===//
//
// Internal to the runtime: the checked contents of a tokenizer.json, which
// TokenizerJson.cpp fills and Tokenizer.cpp (encoding) and
// TokenizerDecode.cpp run, and the text helpers they share.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_TOKENIZERIMPL_H
#define DGC_RUNTIME_TOKENIZERIMPL_H

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dgc::runtime {

/// A normalizer step: Replace every `pattern` with `content`, or (prepend)
/// put `content` in front of a non-empty string.
struct NormalizerStep {
  bool prepend = false;
  std::string pattern;
  std::string content;
};

/// How a Split pre-tokenizer treats the matches of its pattern.
enum class SplitBehavior {
  Removed,
  Isolated,
  MergedWithPrevious,
  MergedWithNext,
  Contiguous
};

struct SplitStep {
  std::string pattern;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
};

struct DecoderStep {
  enum Kind { Replace, ByteFallback, Fuse, Strip } kind = Fuse;
  std::string pattern; // Replace
  std::string content; // Replace: the replacement; Strip: one character
  uint64_t start = 0;  // Strip: at most this many leading `content`s
  uint64_t stop = 0;   // Strip: at most this many trailing ones
};

struct AddedToken {
  std::string content;
  /// What decoding shows: the content, normalized for normalized tokens.
  std::string text;
  int32_t id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
};

/// Leftmost-longest matching of the added tokens, over bytes.
class TokenTrie {
public:
  /// Maps `key` to `value`; the first value given for a key stays.
  void insert(std::string_view key, int32_t value);
  /// The longest key that starts at text[pos], as (length, value); length 0
  /// when none does.
  std::pair<size_t, int32_t> longestAt(std::string_view text, size_t pos) const;
  bool empty() const { return nodes.size() <= 1; }

private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children; // (byte, node)
    int32_t value = -1;
  };
  std::vector<Node> nodes{Node()};
};

struct BpeMerge {
  int32_t rank = 0;
  int32_t result = 0;
};

struct IdEntry {
  /// Points into TokenizerData::modelTokens or ::added, which never move
  /// after loading.
  const std::string *text = nullptr;
  bool special = false;
};

struct TokenizerData {
  // The BPE model.
  std::vector<std::string> modelTokens;
  std::unordered_map<std::string_view, int32_t> vocab; // keys: modelTokens
  std::unordered_map<uint64_t, BpeMerge> merges;       // (left << 32) | right
  std::array<int32_t, 256> byteIds{}; // <0xNN>'s id, -1 if not in the vocab
  int32_t unkId = -1;
  bool fuseUnk = false;
  bool byteFallback = false;
  bool ignoreMerges = false;

  // The pipeline around it.
  std::vector<NormalizerStep> normalizers;
  std::vector<SplitStep> splits;
  bool hasDecoder = false;
  std::vector<DecoderStep> decoders;

  std::vector<AddedToken> added;
  std::unordered_map<std::string_view, int32_t> addedByContent; // -> index
  TokenTrie rawTrie;        // tokens with normalized = false; value: index
  TokenTrie normalizedTrie; // the normalized content of the others

  std::unordered_map<int32_t, IdEntry> ids;
  int64_t vocabSize = 0;
  bool thoughtPrimer = true;
};

/// Applies the normalizer steps in order.
std::string normalize(const std::vector<NormalizerStep> &steps,
                      std::string_view text);
/// Every non-overlapping `pattern`, left to right, becomes `content`.
std::string replaceAll(std::string_view text, std::string_view pattern,
                       std::string_view content);

/// Bytes in the UTF-8 character at text[pos]: 1 to 4, or 1 for a byte that
/// does not start a valid character (overlong, surrogate, truncated, ...).
size_t utf8Length(std::string_view text, size_t pos);
/// The code point of the character at text[pos], or -1 if invalid.
int32_t utf8Decode(std::string_view text, size_t pos);
bool isValidUtf8(std::string_view text);

/// Unicode White_Space: what the reference's `\s` strips around lstrip /
/// rstrip tokens (-1, an invalid character, is not a space).
bool isUnicodeSpace(int32_t c);
/// Python's str.isspace, which Jinja's `trim` uses: also U+001C..U+001F.
bool isPythonSpace(int32_t c);
/// Where the run of `isSpace` characters that ends `text` begins.
size_t trailingSpaceStart(std::string_view text, bool (*isSpace)(int32_t));
/// Where the run of `isSpace` characters that starts `text` ends.
size_t leadingSpaceEnd(std::string_view text, bool (*isSpace)(int32_t));

} // namespace dgc::runtime

#endif // DGC_RUNTIME_TOKENIZERIMPL_H
