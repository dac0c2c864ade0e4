//===- TokenizerJson.cpp - Reading and checking tokenizer.json ------------===//
//
// Turns a tokenizer.json into TokenizerData, checking every field the
// tokenizer uses: ids are non-negative 32-bit integers used once, merges and
// the unk token name vocabulary tokens, and only the model, normalizer,
// pre-tokenizer and decoder types that Tokenizer.cpp implements get through.
// Errors say `name: json.path: problem`.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Tokenizer.h"

#include "StrictJson.h"
#include "TokenizerImpl.h"

#include "dgc/runtime/Files.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

using nlohmann::json;

namespace dgc::runtime {
namespace {

/// Thrown inside this file only; parse() turns it into an Error.
struct ParseError {
  std::string message;
};

[[noreturn]] void fail(const std::string &where, const std::string &what) {
  throw ParseError{where + ": " + what};
}

std::string shown(const std::string &text) { return showJson(json(text)); }

/// `object[key]`, or null when absent (so absent and null read the same).
const json &field(const json &object, const char *key) {
  static const json null;
  auto it = object.find(key);
  return it == object.end() ? null : *it;
}

const json &objectAt(const json &value, const std::string &where) {
  if (!value.is_object())
    fail(where, "expected an object, got " + showJson(value));
  return value;
}

std::string stringAt(const json &value, const std::string &where) {
  if (!value.is_string())
    fail(where, "expected a string, got " + showJson(value));
  return value.get<std::string>();
}

bool boolAt(const json &object, const char *key, const std::string &where,
            bool absent) {
  const json &value = field(object, key);
  if (value.is_null())
    return absent;
  if (!value.is_boolean())
    fail(where + "." + key, "expected true or false, got " + showJson(value));
  return value.get<bool>();
}

uint64_t unsignedAt(const json &value, const std::string &where, uint64_t max) {
  if (!value.is_number_unsigned() || value.get<uint64_t>() > max)
    fail(where, "expected an integer in [0, " + std::to_string(max) +
                    "], got " + showJson(value));
  return value.get<uint64_t>();
}

int32_t idAt(const json &value, const std::string &where) {
  return static_cast<int32_t>(
      unsignedAt(value, where, std::numeric_limits<int32_t>::max()));
}

const std::string &typeOf(const json &object, const std::string &where) {
  objectAt(object, where);
  const json &type = field(object, "type");
  if (!type.is_string())
    fail(where + ".type", "expected a string, got " + showJson(type));
  return type.get_ref<const std::string &>();
}

/// A {"String": s} pattern; regexes are refused, as is "", which the
/// reference treats inconsistently.
std::string patternAt(const json &object, const std::string &where) {
  std::string at = where + ".pattern";
  const json &pattern = objectAt(field(object, "pattern"), at);
  if (pattern.contains("Regex"))
    fail(at, "Regex patterns are not supported, only {\"String\": ...}");
  if (pattern.size() != 1 || !pattern.contains("String"))
    fail(at, "expected {\"String\": ...}, got " + showJson(pattern));
  std::string text = stringAt(field(pattern, "String"), at + ".String");
  if (text.empty())
    fail(at + ".String", "an empty pattern is not supported");
  return text;
}

void unsupported(const std::string &where, const std::string &kind,
                 const std::string &type, const char *supported) {
  fail(where + ".type", kind + " type " + shown(type) +
                            " is not supported (supported: " + supported + ")");
}

/// Appends `value` flattened: Sequence steps become their members.
template <typename Step, typename ParseOne>
void steps(const json &value, const std::string &where, const char *members,
           std::vector<Step> &out, ParseOne parseOne) {
  if (typeOf(value, where) != "Sequence") {
    out.push_back(parseOne(value, where));
    return;
  }
  std::string at = where + "." + members;
  const json &list = field(value, members);
  if (!list.is_array())
    fail(at, "expected an array, got " + showJson(list));
  for (size_t i = 0; i < list.size(); ++i)
    steps(list[i], at + "[" + std::to_string(i) + "]", members, out, parseOne);
}

NormalizerStep normalizerStep(const json &value, const std::string &where) {
  const std::string &type = typeOf(value, where);
  NormalizerStep step;
  if (type == "Replace") {
    step.pattern = patternAt(value, where);
    step.content = stringAt(field(value, "content"), where + ".content");
  } else if (type == "Prepend") {
    step.prepend = true;
    step.content = stringAt(field(value, "prepend"), where + ".prepend");
  } else {
    unsupported(where, "normalizer", type, "Replace, Prepend, Sequence");
  }
  return step;
}

SplitStep splitStep(const json &value, const std::string &where) {
  const std::string &type = typeOf(value, where);
  if (type != "Split")
    unsupported(where, "pre-tokenizer", type, "Split, Sequence");
  SplitStep step;
  step.pattern = patternAt(value, where);
  std::string behavior =
      stringAt(field(value, "behavior"), where + ".behavior");
  static const std::pair<const char *, SplitBehavior> names[] = {
      {"Removed", SplitBehavior::Removed},
      {"Isolated", SplitBehavior::Isolated},
      {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
      {"MergedWithNext", SplitBehavior::MergedWithNext},
      {"Contiguous", SplitBehavior::Contiguous}};
  bool known = false;
  for (const auto &[name, b] : names)
    if (behavior == name) {
      step.behavior = b;
      known = true;
    }
  if (!known)
    fail(where + ".behavior", "unknown split behavior " + shown(behavior));
  step.invert = boolAt(value, "invert", where, false);
  return step;
}

DecoderStep decoderStep(const json &value, const std::string &where) {
  const std::string &type = typeOf(value, where);
  DecoderStep step;
  if (type == "Replace") {
    step.kind = DecoderStep::Replace;
    step.pattern = patternAt(value, where);
    step.content = stringAt(field(value, "content"), where + ".content");
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::Fuse;
  } else if (type == "Strip") {
    step.kind = DecoderStep::Strip;
    step.content = stringAt(field(value, "content"), where + ".content");
    if (step.content.empty() ||
        utf8Length(step.content, 0) != step.content.size() ||
        utf8Decode(step.content, 0) < 0)
      fail(where + ".content",
           "expected one character, got " + shown(step.content));
    step.start = unsignedAt(field(value, "start"), where + ".start", 1 << 20);
    step.stop = unsignedAt(field(value, "stop"), where + ".stop", 1 << 20);
  } else {
    unsupported(where, "decoder", type,
                "Replace, ByteFallback, Fuse, Strip, Sequence");
  }
  return step;
}

void readModel(const json &model, TokenizerData &d) {
  const std::string &type = typeOf(model, "model");
  if (type != "BPE")
    fail("model.type",
         "model type " + shown(type) + " is not supported (only \"BPE\")");
  const json &dropout = field(model, "dropout");
  if (!dropout.is_null() && !(dropout.is_number() && dropout == 0))
    fail("model.dropout", "BPE dropout is not supported (it makes "
                          "tokenization random), got " +
                              showJson(dropout));
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json &affix = field(model, key);
    if (!affix.is_null() && affix != "")
      fail(std::string("model.") + key,
           "is not supported, got " + showJson(affix));
  }
  d.fuseUnk = boolAt(model, "fuse_unk", "model", false);
  d.byteFallback = boolAt(model, "byte_fallback", "model", false);
  d.ignoreMerges = boolAt(model, "ignore_merges", "model", false);

  const json &vocab = objectAt(field(model, "vocab"), "model.vocab");
  d.modelTokens.reserve(vocab.size());
  std::vector<int32_t> tokenIds;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    d.modelTokens.push_back(it.key());
    tokenIds.push_back(
        idAt(it.value(), "model.vocab[" + shown(it.key()) + "]"));
  }
  // modelTokens is complete: views into it stay valid from here on.
  for (size_t i = 0; i < d.modelTokens.size(); ++i) {
    auto [at, fresh] = d.ids.emplace(tokenIds[i], IdEntry{&d.modelTokens[i]});
    if (!fresh)
      fail("model.vocab", "id " + std::to_string(tokenIds[i]) +
                              " is given to both " + shown(*at->second.text) +
                              " and " + shown(d.modelTokens[i]));
    d.vocab.emplace(d.modelTokens[i], tokenIds[i]);
  }
  auto lookup = [&](const std::string &token, const std::string &where,
                    const char *what) {
    auto it = d.vocab.find(token);
    if (it == d.vocab.end())
      fail(where, std::string(what) + shown(token) + " is not in the vocab");
    return it->second;
  };

  const json &merges = field(model, "merges");
  if (!merges.is_null() && !merges.is_array())
    fail("model.merges", "expected an array, got " + showJson(merges));
  for (size_t i = 0; i < merges.size(); ++i) {
    std::string where = "model.merges[" + std::to_string(i) + "]";
    const json &merge = merges[i];
    std::string left, right;
    if (merge.is_string()) { // The older "a b" form.
      const std::string &text = merge.get_ref<const std::string &>();
      size_t space = text.find(' ');
      if (space == std::string::npos ||
          text.find(' ', space + 1) != std::string::npos)
        fail(where, "expected two tokens separated by one space, got " +
                        showJson(merge));
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2) {
      left = stringAt(merge[0], where + "[0]");
      right = stringAt(merge[1], where + "[1]");
    } else {
      fail(where, "expected \"a b\" or [\"a\", \"b\"], got " + showJson(merge));
    }
    uint64_t key = uint64_t(uint32_t(lookup(left, where, ""))) << 32 |
                   uint32_t(lookup(right, where, ""));
    int32_t result = lookup(left + right, where, "the merged token ");
    // As in the reference, a repeated pair keeps its last rank.
    d.merges[key] = BpeMerge{static_cast<int32_t>(i), result};
  }

  const json &unk = field(model, "unk_token");
  if (!unk.is_null())
    d.unkId = lookup(stringAt(unk, "model.unk_token"), "model.unk_token", "");
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = d.vocab.find(name);
    d.byteIds[b] = it == d.vocab.end() ? -1 : it->second;
  }
}

void readAddedTokens(const json &list, TokenizerData &d) {
  if (list.is_null())
    return;
  if (!list.is_array())
    fail("added_tokens", "expected an array, got " + showJson(list));
  std::unordered_map<int32_t, size_t> newIds; // Ids outside the vocab.
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = "added_tokens[" + std::to_string(i) + "]";
    const json &entry = objectAt(list[i], where);
    AddedToken t;
    t.id = idAt(field(entry, "id"), where + ".id");
    t.content = stringAt(field(entry, "content"), where + ".content");
    if (t.content.empty())
      fail(where + ".content", "is empty");
    if (boolAt(entry, "single_word", where, false))
      fail(where + ".single_word", "single_word tokens are not supported");
    t.lstrip = boolAt(entry, "lstrip", where, false);
    t.rstrip = boolAt(entry, "rstrip", where, false);
    t.normalized = boolAt(entry, "normalized", where, true);
    t.special = boolAt(entry, "special", where, false);
    // Decoding shows a normalized token in its normalized form.
    t.text = t.normalized ? normalize(d.normalizers, t.content) : t.content;

    // The reference takes a vocabulary token's id from the vocabulary and
    // numbers the others itself: a file whose ids disagree is not one it
    // wrote.
    auto inVocab = d.vocab.find(t.content);
    if (inVocab != d.vocab.end() && inVocab->second != t.id)
      fail(where + ".id", shown(t.content) + " has id " + std::to_string(t.id) +
                              " but the vocab gives " +
                              std::to_string(inVocab->second));
    if (inVocab == d.vocab.end()) {
      if (auto other = d.ids.find(t.id); other != d.ids.end())
        fail(where + ".id", "id " + std::to_string(t.id) + " of " +
                                shown(t.content) + " is already the vocab's " +
                                shown(*other->second.text));
      if (auto other = newIds.find(t.id); other != newIds.end())
        fail(where + ".id", "id " + std::to_string(t.id) +
                                " is also added_tokens[" +
                                std::to_string(other->second) + "]'s");
      newIds.emplace(t.id, i);
    }
    d.added.push_back(std::move(t));
  }
  // `added` is complete: pointers into it stay valid from here on.
  for (size_t i = 0; i < d.added.size(); ++i) {
    const AddedToken &t = d.added[i];
    if (!d.addedByContent.emplace(t.content, int32_t(i)).second)
      fail("added_tokens[" + std::to_string(i) + "].content",
           shown(t.content) + " appears twice");
    // Skipping goes by the decoded text, as in the reference.
    d.ids[t.id] = IdEntry{&t.text, t.special && t.text == t.content};
    if (!t.normalized)
      d.rawTrie.insert(t.content, int32_t(i));
    else if (!t.text.empty())
      d.normalizedTrie.insert(t.text, int32_t(i));
  }
}

/// Refuses Replace chains that could blow text up: each step may multiply
/// the length by content / pattern, so a few steps of a hostile file would
/// otherwise exhaust memory. Gemma's " " -> "▁" grows text 3-fold.
template <typename Step>
void checkGrowth(const std::vector<Step> &steps, const char *where) {
  constexpr double kMaxGrowth = 64;
  double growth = 1;
  for (const Step &step : steps)
    if (!step.pattern.empty())
      growth *= std::max<double>(1, double(step.content.size()) /
                                        double(step.pattern.size()));
  if (growth > kMaxGrowth)
    fail(where, "its Replace steps can make text more than " +
                    std::to_string(int(kMaxGrowth)) + " times longer");
}

void read(std::string_view text, TokenizerData &d) {
  std::string problem;
  std::optional<json> parsed = parseStrictJson(text, 32, "key", problem);
  if (!parsed)
    throw ParseError{problem};
  const json &root = objectAt(*parsed, "the top level");
  if (!field(root, "truncation").is_null())
    fail("truncation", "truncation is not supported");

  readModel(objectAt(field(root, "model"), "model"), d);
  if (const json &n = field(root, "normalizer"); !n.is_null())
    steps(n, "normalizer", "normalizers", d.normalizers, normalizerStep);
  checkGrowth(d.normalizers, "normalizer");
  if (const json &p = field(root, "pre_tokenizer"); !p.is_null())
    steps(p, "pre_tokenizer", "pretokenizers", d.splits, splitStep);
  if (const json &dec = field(root, "decoder"); !dec.is_null()) {
    d.hasDecoder = true;
    steps(dec, "decoder", "decoders", d.decoders, decoderStep);
  }
  checkGrowth(d.decoders, "decoder");
  readAddedTokens(field(root, "added_tokens"), d);
  for (const auto &[id, entry] : d.ids)
    d.vocabSize = std::max<int64_t>(d.vocabSize, int64_t(id) + 1);
}

} // namespace

Result<Tokenizer> Tokenizer::parse(std::string_view text,
                                   const std::string &name) {
  try {
    auto data = std::make_unique<TokenizerData>();
    read(text, *data);
    return Tokenizer(std::move(data));
  } catch (const ParseError &e) {
    return Error{name + ": " + e.message};
  } catch (const std::exception &e) {
    return Error{name + ": " + e.what()};
  }
}

Result<Tokenizer> Tokenizer::load(const std::string &tokenizerJsonPath) {
  Result<std::string> text = readRegularFile(tokenizerJsonPath);
  if (!text)
    return Error{text.error()};
  return parse(*text, tokenizerJsonPath);
}

} // namespace dgc::runtime
