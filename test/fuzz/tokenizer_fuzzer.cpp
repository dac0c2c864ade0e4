//===- tokenizer_fuzzer.cpp - libFuzzer target for tokenizer.json ---------===//

#include "dgc/runtime/Tokenizer.h"

#include <climits>
#include <cstdlib>

using namespace dgc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  Result<Tokenizer> tok = Tokenizer::parse(text, "fuzz/tokenizer.json");
  if (!tok) {
    if (tok.error().empty()) // Every failure must say why.
      std::abort();
    return 0;
  }
  // Spaces, tabs, accents, CJK, an emoji, invalid UTF-8 and Gemma's turn
  // markers; then the input itself as text.
  static const std::string kSample =
      "Hello  w\xc3\xb6rld\n\t<bos>\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 "
      "\xff\xc3 <|turn>user\nhi<turn|>\n ";
  for (std::string_view sample : {std::string_view(kSample), text}) {
    std::vector<int32_t> ids = tok->encode(sample);
    for (int32_t id : ids) // Every id the encoder gives is a known token.
      if (!tok->tokenText(id) || id >= tok->vocabSize())
        std::abort();
    (void)tok->decode(ids);
    (void)tok->decode(ids, /*skipSpecial=*/true);
  }
  (void)tok->decode({-1, 0, 1, 2, 255, INT_MAX});
  Result<std::vector<int32_t>> chat = tok->encodeChat("  hi \xe3\x80\x80");
  if (!chat && chat.error().empty())
    std::abort();
  return 0;
}
