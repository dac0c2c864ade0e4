//===- TokenizerDecode.cpp - Decoding ids, lookups, the chat prompt -------===//
//
// Decoding runs the decoder chain over the tokens' texts as the `tokenizers`
// library does, down to its corners: special tokens are skipped by their
// decoded text, unknown ids vanish, and a byte run that is not UTF-8 becomes
// one U+FFFD per byte.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Tokenizer.h"

#include "TokenizerImpl.h"

#include <algorithm>

namespace dgc::runtime {

namespace {

/// "<0xNN>" -> NN, as the reference's ByteFallback reads it.
int byteToken(const std::string &token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>')
    return -1;
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  int hi = hex(token[3]), lo = hex(token[4]);
  if (token[3] == '+' && lo >= 0) // Rust's from_str_radix takes a '+'.
    return lo;
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

void byteFallback(std::vector<std::string> &tokens) {
  std::vector<std::string> out;
  std::string bytes;
  auto flush = [&] {
    if (isValidUtf8(bytes))
      out.push_back(bytes);
    else // One replacement character per byte, like the reference.
      for (size_t i = 0; i < bytes.size(); ++i)
        out.push_back("\xEF\xBF\xBD");
    bytes.clear();
  };
  for (std::string &token : tokens) {
    int byte = byteToken(token);
    if (byte >= 0) {
      bytes.push_back(char(byte));
      continue;
    }
    if (!bytes.empty())
      flush();
    out.push_back(std::move(token));
  }
  if (!bytes.empty())
    flush();
  tokens.swap(out);
}

void strip(const DecoderStep &step, std::string &token) {
  std::string_view c = step.content;
  size_t begin = 0, end = token.size();
  for (uint64_t i = 0; i < step.start && token.compare(begin, c.size(), c) == 0;
       ++i)
    begin += c.size();
  for (uint64_t i = 0; i < step.stop && end - begin >= c.size() &&
                       token.compare(end - c.size(), c.size(), c) == 0;
       ++i)
    end -= c.size();
  token = token.substr(begin, end - begin);
}

} // namespace

std::string Tokenizer::decode(const std::vector<int32_t> &ids,
                              bool skipSpecial) const {
  const TokenizerData &d = *data;
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    auto it = d.ids.find(id);
    if (it != d.ids.end() && !(skipSpecial && it->second.special))
      tokens.push_back(*it->second.text);
  }
  std::string text;
  if (!d.hasDecoder) { // The reference joins with spaces then.
    for (size_t i = 0; i < tokens.size(); ++i)
      text += (i ? " " : "") + tokens[i];
    return text;
  }
  for (const DecoderStep &step : d.decoders) {
    switch (step.kind) {
    case DecoderStep::Replace:
      for (std::string &token : tokens)
        token = replaceAll(token, step.pattern, step.content);
      break;
    case DecoderStep::ByteFallback:
      byteFallback(tokens);
      break;
    case DecoderStep::Fuse:
      for (size_t i = 1; i < tokens.size(); ++i)
        tokens[0] += tokens[i];
      tokens.resize(std::min<size_t>(tokens.size(), 1));
      break;
    case DecoderStep::Strip:
      for (std::string &token : tokens)
        strip(step, token);
      break;
    }
  }
  for (const std::string &token : tokens)
    text += token;
  return text;
}

//===----------------------------------------------------------------------===//
// Lookups and the chat prompt
//===----------------------------------------------------------------------===//

std::optional<int32_t> Tokenizer::tokenId(std::string_view token) const {
  if (auto it = data->addedByContent.find(token);
      it != data->addedByContent.end())
    return data->added[it->second].id;
  if (auto it = data->vocab.find(token); it != data->vocab.end())
    return it->second;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::tokenText(int32_t id) const {
  auto it = data->ids.find(id);
  if (it == data->ids.end())
    return std::nullopt;
  return *it->second.text;
}

bool Tokenizer::isSpecial(int32_t id) const {
  auto it = data->ids.find(id);
  return it != data->ids.end() && it->second.special;
}

int64_t Tokenizer::vocabSize() const { return data->vocabSize; }

bool Tokenizer::thoughtPrimer() const { return data->thoughtPrimer; }

// Gemma 4's chat_template.jinja, the one of the 26B-A4B and 31B instruction
// checkpoints (transformers' models/gemma4/convert_gemma4_weights.py ships it
// as _CHAT_TEMPLATE_LARGE, the E2B / E4B one as _CHAT_TEMPLATE), renders one
// user message with add_generation_prompt as
//   {{ bos_token }}<|turn>user\n{{ content | trim }}<turn|>\n<|turn>model\n
// then, when enable_thinking is false (its default),
//   <|channel>thought\n<channel|>
// an empty, closed thought channel; the E2B / E4B template leaves that out.
// There is no system turn unless thinking is on or a system message is given.
// Gemma 3's <start_of_turn> / <end_of_turn> markers are gone. The tokenizer
// adds no bos itself (GemmaTokenizer(add_bos_token=False)): the template does.
std::string Tokenizer::chatPrompt(std::string_view userText) const {
  size_t begin = leadingSpaceEnd(userText, isPythonSpace);
  std::string_view rest = userText.substr(begin);
  std::string_view trimmed =
      rest.substr(0, trailingSpaceStart(rest, isPythonSpace));
  std::string prompt = "<|turn>user\n";
  prompt.append(trimmed).append("<turn|>\n<|turn>model\n");
  if (data->thoughtPrimer)
    prompt += "<|channel>thought\n<channel|>";
  return prompt;
}

Result<std::vector<int32_t>>
Tokenizer::encodeChat(std::string_view userText) const {
  std::vector<const char *> needed = {"<bos>", "<|turn>", "<turn|>"};
  if (data->thoughtPrimer)
    needed.insert(needed.end(), {"<|channel>", "<channel|>"});
  for (const char *token : needed)
    if (!data->addedByContent.count(token))
      return Error{std::string("the tokenizer has no added token '") + token +
                   "': not a Gemma 4 tokenizer"};
  std::vector<int32_t> ids = {*tokenId("<bos>")};
  std::vector<int32_t> rest = encode(chatPrompt(userText));
  ids.insert(ids.end(), rest.begin(), rest.end());
  return ids;
}

Status Tokenizer::useChatTemplate(std::string_view jinja,
                                  const std::string &name) {
  if (jinja.find("<|turn>") == std::string_view::npos)
    return Error{name + ": not a Gemma 4 chat template (no '<|turn>' marker)"};
  // The Jinja source spells the newline as the two characters \n.
  data->thoughtPrimer =
      jinja.find("'<|channel>thought\\n<channel|>'") != std::string_view::npos;
  return Status();
}

} // namespace dgc::runtime
