//===- Tokenizer.h - The checkpoint's text tokenizer ------------*- C++ -*-===//
//
// Reads the `tokenizer.json` of a Hugging Face checkpoint (the format of the
// `tokenizers` library) and encodes and decodes text exactly as that library
// does for the BPE tokenizers of the Gemma family:
//
//   - added tokens (special or not) written literally in the text are matched
//     first, leftmost-longest, honouring lstrip / rstrip / normalized;
//   - the rest is normalized (Replace, Prepend, Sequence), pre-tokenized
//     (Split on a string, every behaviour, or none) and cut into BPE tokens
//     by merge rank, with byte fallback (<0xNN> tokens) for characters
//     outside the vocabulary, then the unk token, and ignore_merges;
//   - decoding runs the decoder chain (Replace, ByteFallback, Fuse, Strip),
//     so byte tokens come back as UTF-8.
//
// Anything else in a tokenizer.json (other models, normalizers,
// pre-tokenizers or decoders, regex patterns, dropout, single_word tokens,
// truncation) is refused with a message naming it, rather than tokenizing
// differently from the reference. Gemma 4 uses: BPE with byte_fallback,
// normalizer Replace(" " -> "▁"), pre-tokenizer Split(" ",
// MergedWithPrevious), decoder Sequence[Replace("▁" -> " "), ByteFallback,
// Fuse] (transformers' GemmaTokenizer).
//
// Nothing here throws: loading fails with a Result whose message names the
// file, the JSON path and the problem. Not thread-safe to modify; const
// members may be called from several threads.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_TOKENIZER_H
#define DGC_RUNTIME_TOKENIZER_H

#include "dgc/runtime/KVCache.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dgc::runtime {

struct TokenizerData;

class Tokenizer {
public:
  /// Reads and checks `tokenizerJsonPath` (a tokenizer.json).
  static Result<Tokenizer> load(const std::string &tokenizerJsonPath);
  /// The same from its text; `name` prefixes every error message.
  static Result<Tokenizer> parse(std::string_view text,
                                 const std::string &name);

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  /// The ids of `text`, adding no special tokens; added and special tokens
  /// written in the text become their single ids. Bytes that are not valid
  /// UTF-8 are taken one at a time, so byte fallback keeps them (decoding
  /// shows each as U+FFFD, as the reference does).
  std::vector<int32_t> encode(std::string_view text) const;
  /// The text of `ids`; unknown ids are skipped, as are special tokens when
  /// `skipSpecial` is set.
  std::string decode(const std::vector<int32_t> &ids,
                     bool skipSpecial = false) const;

  /// The id of an added or vocabulary token, by its exact text.
  std::optional<int32_t> tokenId(std::string_view token) const;
  /// The text of token `id` as decoding sees it.
  std::optional<std::string> tokenText(int32_t id) const;
  bool isSpecial(int32_t id) const;
  /// One more than the highest id: the embedding rows the tokenizer needs.
  int64_t vocabSize() const;

  /// The Gemma 4 prompt for one user message, with the generation prompt,
  /// bos included: <bos><|turn>user\n{text, trimmed}<turn|>\n<|turn>model\n
  /// followed by the empty thought channel <|channel>thought\n<channel|>
  /// when thoughtPrimer() is set. Fails on a tokenizer without these tokens.
  Result<std::vector<int32_t>> encodeChat(std::string_view userText) const;
  /// The same prompt as text, without bos.
  std::string chatPrompt(std::string_view userText) const;
  /// Whether the generation prompt ends with the empty thought channel, as
  /// the 26B-A4B and 31B templates render it with thinking off (the
  /// default); the E2B and E4B templates stop after "<|turn>model\n".
  bool thoughtPrimer() const;
  /// Takes that choice from the checkpoint's chat template (the text of
  /// chat_template.jinja, or tokenizer_config.json's "chat_template"); fails
  /// if it is not a Gemma 4 template.
  Status useChatTemplate(std::string_view jinja, const std::string &name);

private:
  explicit Tokenizer(std::unique_ptr<TokenizerData> data);
  std::unique_ptr<TokenizerData> data;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_TOKENIZER_H
