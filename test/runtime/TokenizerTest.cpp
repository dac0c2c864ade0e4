//===- TokenizerTest.cpp - Tokenizing as the tokenizers library does ------===//
//
// The fixtures under test/fixtures/tiny/tokenizer were written by the Hugging
// Face `tokenizers` library (scripts/fixtures/make_tokenizer_fixture.py):
// every recorded string must encode to exactly the recorded ids and decode
// back to the recorded text.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace dgc::runtime;
using nlohmann::json;

namespace {

const std::string kFixtures = DGC_TOKENIZER_FIXTURES;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const json &expected() {
  static const json data = json::parse(readFile(kFixtures + "/expected.json"));
  return data;
}

Tokenizer loadFixture(const std::string &file) {
  Result<Tokenizer> tok = Tokenizer::load(kFixtures + "/" + file);
  if (!tok) // GoogleTest reports the exception as this test's failure.
    throw std::runtime_error(tok.error());
  return std::move(*tok);
}

/// Every case of `cases` against `tok`: ids, both decodes, the round trip.
void checkCases(const Tokenizer &tok, const json &cases) {
  ASSERT_GE(cases.size(), 25u);
  for (const json &c : cases) {
    std::string text = c["text"];
    SCOPED_TRACE("text: " + json(text).dump());
    std::vector<int32_t> ids = c["ids"];
    EXPECT_EQ(tok.encode(text), ids);
    EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>());
    EXPECT_EQ(tok.decode(ids, /*skipSpecial=*/true),
              c["decoded_skip_special"].get<std::string>());
    if (c["roundtrip"].get<bool>()) {
      EXPECT_EQ(tok.decode(tok.encode(text)), text);
    }
  }
}

TEST(TokenizerFixture, MatchesTheTinyConfig) {
  Tokenizer tok = loadFixture("tokenizer.json");
  EXPECT_EQ(tok.vocabSize(), 512);
  // configs/tiny: pad 0, eos 1, bos 2; generation eos [1, 106, 50]; image
  // tokens boi 509, eoi 510, image 511.
  const std::pair<const char *, int32_t> ids[] = {{"<pad>", 0},
                                                  {"<eos>", 1},
                                                  {"<bos>", 2},
                                                  {"<unk>", 3},
                                                  {"<turn|>", 106},
                                                  {"<|turn>", 105},
                                                  {"<|tool_response>", 50},
                                                  {"<|image>", 509},
                                                  {"<image|>", 510},
                                                  {"<|image|>", 511},
                                                  {"<0x00>", 240},
                                                  {"<0xFF>", 495}};
  for (auto [token, id] : ids) {
    EXPECT_EQ(tok.tokenId(token), id) << token;
    EXPECT_EQ(tok.tokenText(id), std::string(token));
  }
  EXPECT_TRUE(tok.isSpecial(106));
  EXPECT_FALSE(tok.isSpecial(240));
  EXPECT_FALSE(tok.tokenId("not a token"));
  EXPECT_FALSE(tok.tokenText(512));
  EXPECT_FALSE(tok.tokenText(-1));
}

TEST(TokenizerFixture, EncodesAndDecodesLikeTheReference) {
  checkCases(loadFixture("tokenizer.json"), expected()["cases"]);
}

// Prepend and Sequence normalizers, every Split behaviour and invert, Strip,
// lstrip / rstrip and normalized added tokens, ignore_merges, unk without
// byte fallback, merges written as "a b".
TEST(TokenizerFixture, VariantOptionsMatchTheReference) {
  checkCases(loadFixture("variant.json"), expected()["variant_cases"]);
}

TEST(TokenizerFixture, CheckpointHoldsTheSameTokenizer) {
  EXPECT_EQ(readFile(kFixtures + "/../checkpoint/tokenizer.json"),
            readFile(kFixtures + "/tokenizer.json"));
}

TEST(TokenizerFixture, MergesAsStringsGiveTheSameIds) {
  json data = json::parse(readFile(kFixtures + "/tokenizer.json"));
  json merges = json::array();
  for (const json &pair : data["model"]["merges"])
    merges.push_back(pair[0].get<std::string>() + " " +
                     pair[1].get<std::string>());
  data["model"]["merges"] = merges;
  Result<Tokenizer> tok = Tokenizer::parse(data.dump(), "strings.json");
  ASSERT_TRUE(tok) << tok.error();
  for (const json &c : expected()["cases"])
    EXPECT_EQ(tok->encode(c["text"].get<std::string>()),
              c["ids"].get<std::vector<int32_t>>());
}

TEST(TokenizerFixture, ChatPromptMatchesTheGemma4Template) {
  Tokenizer tok = loadFixture("tokenizer.json");
  EXPECT_TRUE(tok.thoughtPrimer()); // The 26B-A4B template's default.
  for (const json &chat : expected()["chat"]) {
    std::string user = chat["user"];
    const json &large = chat["large"];
    EXPECT_EQ("<bos>" + tok.chatPrompt(user),
              large["prompt"].get<std::string>());
    Result<std::vector<int32_t>> ids = tok.encodeChat(user);
    ASSERT_TRUE(ids) << ids.error();
    EXPECT_EQ(*ids, large["ids"].get<std::vector<int32_t>>());
  }

  // The E2B / E4B template: no thought primer.
  std::string small = "{{- bos_token -}}...{{- '<|turn>' + role + '\\n' }}..."
                      "{%- if add_generation_prompt -%}"
                      "{{- '<|turn>model\\n' -}}{%- endif -%}";
  ASSERT_TRUE(tok.useChatTemplate(small, "chat_template.jinja"));
  EXPECT_FALSE(tok.thoughtPrimer());
  for (const json &chat : expected()["chat"]) {
    Result<std::vector<int32_t>> ids =
        tok.encodeChat(chat["user"].get<std::string>());
    ASSERT_TRUE(ids) << ids.error();
    EXPECT_EQ(*ids, chat["small"]["ids"].get<std::vector<int32_t>>());
  }
  std::string large = small + "{%- if not enable_thinking | default(false) "
                              "-%}{{- '<|channel>thought\\n<channel|>' -}}";
  ASSERT_TRUE(tok.useChatTemplate(large, "chat_template.jinja"));
  EXPECT_TRUE(tok.thoughtPrimer());

  Status gemma3 = tok.useChatTemplate("{{ '<start_of_turn>' + role + '\\n' }}",
                                      "chat_template.jinja");
  ASSERT_FALSE(gemma3);
  EXPECT_NE(gemma3.error().find("not a Gemma 4 chat template"),
            std::string::npos);
}

TEST(TokenizerFixture, InvalidUtf8BecomesByteTokens) {
  Tokenizer tok = loadFixture("tokenizer.json");
  constexpr int32_t kByte0 = 240; // <0x00>
  // Each byte of an invalid sequence (here a stray byte, a truncated
  // character and an encoded surrogate) is a character of its own.
  EXPECT_EQ(
      tok.encode("\xff\xe2\x82"),
      (std::vector<int32_t>{kByte0 + 0xff, kByte0 + 0xe2, kByte0 + 0x82}));
  EXPECT_EQ(
      tok.encode("\xed\xa0\x80"),
      (std::vector<int32_t>{kByte0 + 0xed, kByte0 + 0xa0, kByte0 + 0x80}));
  // Decoding groups byte tokens; a run that is not UTF-8 becomes one U+FFFD
  // per byte, as in the reference.
  EXPECT_EQ(tok.decode({kByte0 + 0xff, kByte0 + 0xe2, kByte0 + 0x82}),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({kByte0 + 0xe2, kByte0 + 0x82, kByte0 + 0xac}),
            "\xe2\x82\xac");
}

//===----------------------------------------------------------------------===//
// Hand-made tokenizers
//===----------------------------------------------------------------------===//

json smallTokenizer() {
  return json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [{"id": 0, "content": "<unk>", "single_word": false,
                      "lstrip": false, "rstrip": false, "normalized": false,
                      "special": true}],
    "normalizer": {"type": "Replace", "pattern": {"String": " "},
                   "content": "\u2581"},
    "pre_tokenizer": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
              "continuing_subword_prefix": null, "end_of_word_suffix": null,
              "fuse_unk": true, "byte_fallback": false,
              "vocab": {"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "bc": 5,
                        "abc": 6, "\u2581": 7},
              "merges": [["b", "c"], ["a", "b"], ["a", "bc"]]}})");
}

TEST(TokenizerSmall, MergesByRankAndFusesUnknowns) {
  Result<Tokenizer> tok = Tokenizer::parse(smallTokenizer().dump(), "small");
  ASSERT_TRUE(tok) << tok.error();
  // (b, c) outranks (a, b): abc = a + bc, then abc.
  EXPECT_EQ(tok->encode("abc"), (std::vector<int32_t>{6}));
  EXPECT_EQ(tok->encode("abab"), (std::vector<int32_t>{4, 4}));
  // No byte fallback: a run of unknown characters is one fused <unk>.
  EXPECT_EQ(tok->encode("x\xe6\x97\xa5y a"), (std::vector<int32_t>{0, 7, 1}));
  EXPECT_EQ(tok->decode({1, 0, 9, 7, 5}), "a<unk> bc");
  EXPECT_EQ(tok->decode({1, 0, 7, 5}, true), "a bc");
  EXPECT_EQ(tok->encode(""), std::vector<int32_t>{});
}

/// The error from parsing `data`; fails the test if it parses.
std::string errorOf(const std::string &text) {
  Result<Tokenizer> tok = Tokenizer::parse(text, "bad/tokenizer.json");
  EXPECT_FALSE(tok) << "accepted: " << text.substr(0, 200);
  return tok ? std::string() : tok.error();
}

std::string errorOf(const char *text) { return errorOf(std::string(text)); }
std::string errorOf(const json &data) { return errorOf(data.dump()); }

#define EXPECT_ERROR(text, substring)                                          \
  do {                                                                         \
    std::string error = errorOf(text);                                         \
    EXPECT_NE(error.find(substring), std::string::npos) << error;              \
    EXPECT_EQ(error.rfind("bad/tokenizer.json: ", 0), 0u) << error;            \
  } while (false)

TEST(TokenizerErrors, NotJson) {
  EXPECT_ERROR("{\"model\": ", "not valid JSON");
  EXPECT_ERROR("[1, 2]", "the top level: expected an object");
  EXPECT_ERROR(R"({"model": {}, "model": {}})", "key 'model' appears twice");
}

TEST(TokenizerErrors, Model) {
  json data = smallTokenizer();
  data.erase("model");
  EXPECT_ERROR(data, "model: expected an object, got null");

  data = smallTokenizer();
  data["model"]["type"] = "Unigram";
  EXPECT_ERROR(data, "model.type: model type \"Unigram\" is not supported");

  data = smallTokenizer();
  data["model"]["dropout"] = 0.1;
  EXPECT_ERROR(data, "model.dropout: BPE dropout is not supported");

  data = smallTokenizer();
  data["model"]["continuing_subword_prefix"] = "##";
  EXPECT_ERROR(data, "model.continuing_subword_prefix: is not supported");

  data = smallTokenizer();
  data["model"]["vocab"]["d"] = 3;
  EXPECT_ERROR(data, "model.vocab: id 3 is given to both");

  data = smallTokenizer();
  data["model"]["vocab"]["d"] = -4;
  EXPECT_ERROR(data, "model.vocab[\"d\"]: expected an integer in [0, ");

  data = smallTokenizer();
  data["model"]["unk_token"] = "<missing>";
  EXPECT_ERROR(data, "model.unk_token: \"<missing>\" is not in the vocab");

  data = smallTokenizer();
  data["truncation"] = {{"max_length", 8}};
  EXPECT_ERROR(data, "truncation: truncation is not supported");
}

TEST(TokenizerErrors, Merges) {
  json data = smallTokenizer();
  data["model"]["merges"].push_back({"a", "zz"});
  EXPECT_ERROR(data, "model.merges[3]: \"zz\" is not in the vocab");

  data = smallTokenizer();
  data["model"]["merges"].push_back({"c", "a"});
  EXPECT_ERROR(data,
               "model.merges[3]: the merged token \"ca\" is not in the vocab");

  data = smallTokenizer();
  data["model"]["merges"].push_back("a b c");
  EXPECT_ERROR(data, "model.merges[3]: expected two tokens separated by one");

  data = smallTokenizer();
  data["model"]["merges"].push_back(json::array({"a"}));
  EXPECT_ERROR(data, "model.merges[3]: expected \"a b\" or [\"a\", \"b\"]");
}

TEST(TokenizerErrors, AddedTokens) {
  json data = smallTokenizer();
  data["added_tokens"][0]["id"] = 5;
  EXPECT_ERROR(data, "added_tokens[0].id: \"<unk>\" has id 5 but the vocab "
                     "gives 0");

  data = smallTokenizer();
  data["added_tokens"][0]["id"] = "0";
  EXPECT_ERROR(data, "added_tokens[0].id: expected an integer");

  data = smallTokenizer();
  data["added_tokens"].push_back({{"id", 3}, {"content", "<new>"}});
  EXPECT_ERROR(data,
               "added_tokens[1].id: id 3 of \"<new>\" is already the vocab's");

  data = smallTokenizer();
  data["added_tokens"].push_back({{"id", 9}, {"content", "<x>"}});
  data["added_tokens"].push_back({{"id", 9}, {"content", "<y>"}});
  EXPECT_ERROR(data, "added_tokens[2].id: id 9 is also added_tokens[1]'s");

  data = smallTokenizer();
  data["added_tokens"].push_back(data["added_tokens"][0]);
  EXPECT_ERROR(data, "added_tokens[1].content: \"<unk>\" appears twice");

  data = smallTokenizer();
  data["added_tokens"][0]["single_word"] = true;
  EXPECT_ERROR(data, "added_tokens[0].single_word: single_word tokens are not "
                     "supported");
}

TEST(TokenizerErrors, PipelineSteps) {
  json data = smallTokenizer();
  data["normalizer"] = {{"type", "NFKC"}};
  EXPECT_ERROR(data,
               "normalizer.type: normalizer type \"NFKC\" is not supported");

  data = smallTokenizer();
  data["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "x"}, {"type": "Lowercase"}]})");
  EXPECT_ERROR(data, "normalizer.normalizers[1].type: normalizer type "
                     "\"Lowercase\" is not supported");

  data = smallTokenizer();
  data["normalizer"]["pattern"] = {{"Regex", "\\s"}};
  EXPECT_ERROR(data, "normalizer.pattern: Regex patterns are not supported");

  data = smallTokenizer();
  data["pre_tokenizer"] = {{"type", "ByteLevel"}};
  EXPECT_ERROR(data, "pre_tokenizer.type: pre-tokenizer type \"ByteLevel\" is "
                     "not supported");

  data = smallTokenizer();
  data["pre_tokenizer"] = json::parse(R"({"type": "Split",
      "pattern": {"String": " "}, "behavior": "Sideways", "invert": false})");
  EXPECT_ERROR(data, "pre_tokenizer.behavior: unknown split behavior");

  data = smallTokenizer();
  data["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array()}};
  for (int i = 0; i < 4; ++i) // 3 bytes each time: 81-fold.
    data["normalizer"]["normalizers"].push_back(smallTokenizer()["normalizer"]);
  EXPECT_ERROR(data, "normalizer: its Replace steps can make text more than "
                     "64 times longer");

  data = smallTokenizer();
  data["decoder"]["decoders"][1] = {{"type", "Metaspace"}};
  EXPECT_ERROR(data, "decoder.decoders[1].type: decoder type \"Metaspace\" is "
                     "not supported");
}

TEST(TokenizerErrors, MissingFile) {
  Result<Tokenizer> tok = Tokenizer::load(kFixtures + "/missing.json");
  ASSERT_FALSE(tok);
  EXPECT_NE(tok.error().find("missing.json: cannot open"), std::string::npos)
      << tok.error();
}

TEST(TokenizerErrors, ChatNeedsGemma4Tokens) {
  Result<Tokenizer> tok = Tokenizer::parse(smallTokenizer().dump(), "small");
  ASSERT_TRUE(tok) << tok.error();
  Result<std::vector<int32_t>> ids = tok->encodeChat("hi");
  ASSERT_FALSE(ids);
  EXPECT_NE(ids.error().find("no added token '<bos>'"), std::string::npos)
      << ids.error();
}

} // namespace
