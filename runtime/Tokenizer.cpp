//===- Tokenizer.cpp - Encoding text --------------------------------------===//
//
// Follows the `tokenizers` library step for step, so that ids match it
// exactly: split off added tokens on the raw text, normalize the rest, split
// off normalized added tokens, pre-tokenize, then BPE each piece. Where that
// library has an odd corner (a pending unk token written after byte-fallback
// tokens), this does the same.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Tokenizer.h"

#include "TokenizerImpl.h"

#include <algorithm>
#include <queue>

namespace dgc::runtime {

//===----------------------------------------------------------------------===//
// UTF-8 and the trie
//===----------------------------------------------------------------------===//

int32_t utf8Decode(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return uint8_t(text[i]); };
  uint8_t b0 = byte(pos);
  if (b0 < 0x80)
    return b0;
  size_t n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
  if (n == 0 || b0 > 0xF4 || pos + n > text.size())
    return -1;
  int32_t cp = b0 & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80)
      return -1;
    cp = cp << 6 | (byte(pos + i) & 0x3F);
  }
  static const int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return -1;
  return cp;
}

size_t utf8Length(std::string_view text, size_t pos) {
  uint8_t b0 = uint8_t(text[pos]);
  if (b0 < 0x80 || utf8Decode(text, pos) < 0)
    return 1;
  return b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
}

bool isValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size(); i += utf8Length(text, i))
    if (utf8Decode(text, i) < 0)
      return false;
  return true;
}

bool isUnicodeSpace(int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool isPythonSpace(int32_t c) {
  return isUnicodeSpace(c) || (c >= 0x1C && c <= 0x1F);
}

size_t trailingSpaceStart(std::string_view text, bool (*isSpace)(int32_t)) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && end - start < 4 &&
           (uint8_t(text[start]) & 0xC0) == 0x80)
      --start;
    if (utf8Length(text, start) != end - start)
      start = end - 1; // A stray byte: never a space.
    if (!isSpace(utf8Decode(text, start)))
      break;
    end = start;
  }
  return end;
}

size_t leadingSpaceEnd(std::string_view text, bool (*isSpace)(int32_t)) {
  size_t pos = 0;
  while (pos < text.size() && isSpace(utf8Decode(text, pos)))
    pos += utf8Length(text, pos);
  return pos;
}

void TokenTrie::insert(std::string_view key, int32_t value) {
  int32_t node = 0;
  for (char c : key) {
    int32_t next = -1;
    for (auto [byte, child] : nodes[node].children)
      if (byte == uint8_t(c))
        next = child;
    if (next < 0) {
      next = int32_t(nodes.size());
      nodes[node].children.emplace_back(uint8_t(c), next);
      nodes.emplace_back();
    }
    node = next;
  }
  if (nodes[node].value < 0)
    nodes[node].value = value;
}

std::pair<size_t, int32_t> TokenTrie::longestAt(std::string_view text,
                                                size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    int32_t next = -1;
    for (auto [byte, child] : nodes[node].children)
      if (byte == uint8_t(text[i]))
        next = child;
    if (next < 0)
      break;
    node = next;
    if (nodes[node].value >= 0)
      best = {i + 1 - pos, nodes[node].value};
  }
  return best;
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

std::string replaceAll(std::string_view text, std::string_view pattern,
                       std::string_view content) {
  std::string out;
  size_t from = 0;
  for (size_t at; (at = text.find(pattern, from)) != std::string_view::npos;
       from = at + pattern.size())
    out.append(text.substr(from, at - from)).append(content);
  return out.append(text.substr(from));
}

std::string normalize(const std::vector<NormalizerStep> &steps,
                      std::string_view text) {
  std::string out(text);
  for (const NormalizerStep &step : steps) {
    if (!step.prepend)
      out = replaceAll(out, step.pattern, step.content);
    else if (!out.empty())
      out.insert(0, step.content);
  }
  return out;
}

namespace {

/// Calls piece(text, -1) for the stretches between added tokens and
/// piece(text, index) for each token found; lstrip / rstrip tokens take the
/// whitespace around them.
template <typename Piece>
void splitAdded(const TokenizerData &d, const TokenTrie &trie,
                std::string_view text, Piece piece) {
  size_t done = 0;
  for (size_t pos = 0; pos < text.size();) {
    auto [length, index] = trie.empty() ? std::pair<size_t, int32_t>{0, -1}
                                        : trie.longestAt(text, pos);
    if (length == 0) {
      ++pos;
      continue;
    }
    const AddedToken &token = d.added[index];
    size_t start = pos, stop = pos + length;
    if (token.lstrip)
      start = std::max(
          done, trailingSpaceStart(text.substr(0, start), isUnicodeSpace));
    if (token.rstrip)
      stop += leadingSpaceEnd(text.substr(stop), isUnicodeSpace);
    if (done < start)
      piece(text.substr(done, start - done), -1);
    piece(text.substr(start, stop - start), index);
    done = pos = stop;
  }
  if (done < text.size())
    piece(text.substr(done), -1);
}

/// One Split pre-tokenizer over `text`, appending the non-empty pieces.
void splitOn(const SplitStep &step, std::string_view text,
             std::vector<std::string_view> &out) {
  // Alternating (piece, is a match) segments covering `text`.
  std::vector<std::pair<std::string_view, bool>> segments;
  size_t from = 0;
  for (size_t at; (at = text.find(step.pattern, from)) != std::string::npos;
       from = at + step.pattern.size()) {
    if (at > from)
      segments.emplace_back(text.substr(from, at - from), step.invert);
    segments.emplace_back(text.substr(at, step.pattern.size()), !step.invert);
  }
  if (from < text.size())
    segments.emplace_back(text.substr(from), step.invert);

  auto extend = [](std::string_view a, std::string_view b) {
    return std::string_view(a.data(), a.size() + b.size()); // Adjacent.
  };
  std::vector<std::string_view> pieces;
  bool previousMatch = false;
  switch (step.behavior) {
  case SplitBehavior::Removed:
    for (auto [s, match] : segments)
      if (!match)
        pieces.push_back(s);
    break;
  case SplitBehavior::Isolated:
    for (auto [s, match] : segments)
      pieces.push_back(s);
    break;
  case SplitBehavior::MergedWithPrevious:
    for (auto [s, match] : segments) {
      if (match && !previousMatch && !pieces.empty())
        pieces.back() = extend(pieces.back(), s);
      else
        pieces.push_back(s);
      previousMatch = match;
    }
    break;
  case SplitBehavior::MergedWithNext:
    for (size_t i = segments.size(); i-- > 0;) {
      auto [s, match] = segments[i];
      if (match && !previousMatch && !pieces.empty())
        pieces.back() = extend(s, pieces.back());
      else
        pieces.push_back(s);
      previousMatch = match;
    }
    std::reverse(pieces.begin(), pieces.end());
    break;
  case SplitBehavior::Contiguous:
    for (size_t i = 0; i < segments.size(); ++i) {
      auto [s, match] = segments[i];
      if (i > 0 && match == previousMatch)
        pieces.back() = extend(pieces.back(), s);
      else
        pieces.push_back(s);
      previousMatch = match;
    }
    break;
  }
  for (std::string_view p : pieces)
    if (!p.empty())
      out.push_back(p);
}

/// BPE over one pre-tokenized word: characters (or their byte tokens, or
/// unk), then the lowest-ranked merge first, leftmost among equal ranks.
void bpe(const TokenizerData &d, std::string_view word,
         std::vector<int32_t> &out) {
  if (d.ignoreMerges)
    if (auto it = d.vocab.find(word); it != d.vocab.end()) {
      out.push_back(it->second);
      return;
    }
  struct Symbol {
    int32_t id;
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  auto add = [&](int32_t id) {
    int32_t n = int32_t(symbols.size());
    symbols.push_back({id, n - 1, n + 1});
  };
  bool unkPending = false;
  for (size_t pos = 0, len; pos < word.size(); pos += len) {
    len = utf8Length(word, pos);
    if (auto it = d.vocab.find(word.substr(pos, len)); it != d.vocab.end()) {
      if (unkPending)
        add(d.unkId);
      unkPending = false;
      add(it->second);
      continue;
    }
    bool bytesKnown = d.byteFallback;
    for (size_t i = 0; i < len && bytesKnown; ++i)
      bytesKnown = d.byteIds[uint8_t(word[pos + i])] >= 0;
    if (bytesKnown) { // The reference leaves a pending unk pending here.
      for (size_t i = 0; i < len; ++i)
        add(d.byteIds[uint8_t(word[pos + i])]);
      continue;
    }
    if (d.unkId < 0)
      continue; // Dropped, as the reference does without an unk token.
    if (unkPending && !d.fuseUnk)
      add(d.unkId);
    unkPending = true;
  }
  if (unkPending)
    add(d.unkId);
  if (symbols.empty())
    return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank, pos, result;
    bool operator<(const Candidate &o) const { // Lowest rank, then pos, first.
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  auto mergeOf = [&](int32_t left, int32_t right) -> const BpeMerge * {
    auto it = d.merges.find(uint64_t(uint32_t(left)) << 32 | uint32_t(right));
    return it == d.merges.end() ? nullptr : &it->second;
  };
  std::priority_queue<Candidate> queue;
  for (int32_t i = 0; i + 1 < int32_t(symbols.size()); ++i)
    if (const BpeMerge *m = mergeOf(symbols[i].id, symbols[i + 1].id))
      queue.push({m->rank, i, m->result});
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (left.id < 0 || left.next < 0)
      continue; // Merged away, or nothing on its right any more.
    Symbol &right = symbols[left.next];
    const BpeMerge *m = mergeOf(left.id, right.id);
    if (!m || m->result != top.result)
      continue; // A stale candidate.
    left.id = top.result;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0)
      symbols[left.next].prev = top.pos;
    if (left.prev >= 0)
      if (const BpeMerge *p = mergeOf(symbols[left.prev].id, left.id))
        queue.push({p->rank, left.prev, p->result});
    if (left.next >= 0)
      if (const BpeMerge *n = mergeOf(left.id, symbols[left.next].id))
        queue.push({n->rank, top.pos, n->result});
  }
  for (const Symbol &s : symbols)
    if (s.id >= 0)
      out.push_back(s.id);
}

} // namespace

Tokenizer::Tokenizer(std::unique_ptr<TokenizerData> data)
    : data(std::move(data)) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  const TokenizerData &d = *data;
  std::vector<int32_t> ids;
  std::vector<std::string_view> words, next;
  auto model = [&](std::string_view normalized, int32_t added) {
    if (added >= 0) {
      ids.push_back(d.added[added].id);
      return;
    }
    words.assign(1, normalized);
    for (const SplitStep &step : d.splits) {
      next.clear();
      for (std::string_view w : words)
        splitOn(step, w, next);
      words.swap(next);
    }
    for (std::string_view w : words)
      bpe(d, w, ids);
  };
  splitAdded(d, d.rawTrie, text, [&](std::string_view piece, int32_t added) {
    if (added >= 0) {
      ids.push_back(d.added[added].id);
      return;
    }
    std::string normalized = normalize(d.normalizers, piece);
    splitAdded(d, d.normalizedTrie, normalized, model);
  });
  return ids;
}

} // namespace dgc::runtime
