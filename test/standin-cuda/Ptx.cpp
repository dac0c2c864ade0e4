//===- Ptx.cpp - What the stand-in driver reads from PTX text -------------===//
//
// A reader of PTX's outline, not of its instructions: the module's
// statements (directives, variables and functions, each ended by `;` or a
// body), each kernel's signature and performance directives, and the
// `.shared` declarations in reach of each kernel.
//
//===----------------------------------------------------------------------===//

#include "Ptx.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

namespace dgc::standin {
namespace {

/// `text` with its comments blanked out (newlines kept, so offsets keep
/// their lines).
std::string withoutComments(const std::string &text) {
  std::string out = text;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '"') {
      size_t end = out.find('"', i + 1);
      i = end == std::string::npos ? out.size() : end;
    } else if (out.compare(i, 2, "//") == 0) {
      for (; i < out.size() && out[i] != '\n'; ++i)
        out[i] = ' ';
    } else if (out.compare(i, 2, "/*") == 0) {
      size_t end = out.find("*/", i + 2);
      end = end == std::string::npos ? out.size() : end + 2;
      for (; i < end; ++i)
        if (out[i] != '\n')
          out[i] = ' ';
      --i;
    }
  }
  return out;
}

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         c == '%' || c == '.';
}

/// Whitespace-separated words, with `,`, `(`, `)`, `[`, `]` and `=` as
/// words of their own.
std::vector<std::string> words(const std::string &text) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty())
      out.push_back(word);
    word.clear();
  };
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      flush();
    } else if (std::string(",()[]=").find(c) != std::string::npos) {
      flush();
      out.push_back(std::string(1, c));
    } else {
      word += c;
    }
  }
  flush();
  return out;
}

bool parseUnsigned(const std::string &word, unsigned long long &value) {
  if (word.empty() || !std::isdigit(static_cast<unsigned char>(word[0])))
    return false;
  char *end = nullptr;
  value = std::strtoull(word.c_str(), &end, 0);
  return *end == '\0';
}

/// Bytes of one element of a PTX fundamental type; 0 if `word` is none.
size_t typeBytes(const std::string &word) {
  static const std::map<std::string, size_t> sizes = {
      {".b8", 1},    {".u8", 1},   {".s8", 1},   {".pred", 1},   {".b16", 2},
      {".u16", 2},   {".s16", 2},  {".f16", 2},  {".bf16", 2},   {".b32", 4},
      {".u32", 4},   {".s32", 4},  {".f32", 4},  {".f16x2", 4},  {".bf16x2", 4},
      {".b64", 8},   {".u64", 8},  {".s64", 8},  {".f64", 8},    {".b128", 16},
      {".tf32", 4},  {".e4m3", 1}, {".e5m2", 1}, {".e4m3x2", 2}, {".e5m2x2", 2},
      {".f64x2", 16}};
  auto it = sizes.find(word);
  return it == sizes.end() ? 0 : it->second;
}

struct Declared {
  std::string name;
  size_t bytes = 0;
  size_t align = 1;
};

/// The variables of one declaration (`.shared .align 16 .b8 a[64], b;`),
/// after its state space word; false if it does not read as one.
bool parseVariables(const std::vector<std::string> &w, size_t at,
                    std::vector<Declared> &out) {
  size_t align = 0, element = 0, vector = 1;
  for (; at < w.size() && w[at][0] == '.'; ++at) {
    unsigned long long n = 0;
    if (w[at] == ".align" && at + 1 < w.size() && parseUnsigned(w[at + 1], n)) {
      align = n;
      ++at;
    } else if (w[at] == ".v2" || w[at] == ".v4" || w[at] == ".v8") {
      vector = std::stoul(w[at].substr(2));
    } else if (size_t bytes = typeBytes(w[at])) {
      element = bytes * vector;
    } else if (w[at] != ".ptr" && w[at] != ".global" && w[at] != ".shared") {
      return false;
    }
  }
  if (!element)
    return false;
  while (at < w.size()) {
    Declared d{w[at++], element, align ? align : element};
    if (!isNameChar(d.name[0]) || std::isdigit((unsigned char)d.name[0]))
      return false;
    while (at < w.size() && w[at] == "[") {
      unsigned long long n = 0;
      if (at + 1 < w.size() && w[at + 1] == "]") {
        d.bytes = 0; // extern: sized at launch
        at += 2;
      } else if (at + 2 < w.size() && parseUnsigned(w[at + 1], n) &&
                 w[at + 2] == "]") {
        d.bytes *= n;
        at += 3;
      } else {
        return false;
      }
    }
    out.push_back(d);
    if (at < w.size() && w[at] == "=")
      break; // an initialiser follows
    if (at < w.size() && w[at] != ",")
      return false;
    ++at;
  }
  return true;
}

/// Bytes of `variables` laid out one after another at their alignments.
size_t laidOut(const std::vector<Declared> &variables) {
  size_t total = 0;
  for (const Declared &d : variables)
    total = (total + d.align - 1) / d.align * d.align + d.bytes;
  return total;
}

bool mentions(const std::string &body, const std::string &name) {
  for (size_t at = body.find(name); at != std::string::npos;
       at = body.find(name, at + 1)) {
    bool before = at > 0 && isNameChar(body[at - 1]);
    size_t end = at + name.size();
    bool after = end < body.size() && isNameChar(body[end]);
    if (!before && !after)
      return true;
  }
  return false;
}

class Reader {
public:
  Reader(const std::string &text, PtxModule &module, PtxError &error)
      : text_(withoutComments(text)), module_(module), error_(error) {}

  bool read();

private:
  bool fail(size_t offset, const std::string &what) {
    size_t line = 1 + std::count(text_.begin(), text_.begin() + offset, '\n');
    error_.message = "ptxas application ptx input, line " +
                     std::to_string(line) + "; error   : " + what;
    return false;
  }
  bool statement(size_t start, size_t end, size_t bodyStart, size_t bodyEnd);
  bool entry(const std::vector<std::string> &w, size_t at, size_t start,
             size_t bodyStart, size_t bodyEnd);
  bool dims(const std::vector<std::string> &w, size_t &at,
            std::array<unsigned, 3> &out);

  std::string text_;
  PtxModule &module_;
  PtxError &error_;
  int statements_ = 0;
  std::vector<Declared> moduleShared_;
  std::vector<std::string> entryBodies_, funcBodies_;
  std::vector<size_t> ownShared_;
};

bool Reader::read() {
  size_t pos = 0, n = text_.size();
  while (true) {
    while (pos < n && std::isspace(static_cast<unsigned char>(text_[pos])))
      ++pos;
    if (pos == n)
      break;
    size_t start = pos, bodyStart = 0, bodyEnd = 0;
    int parens = 0;
    bool ended = false;
    // These directives end with their line, not with `;`.
    size_t eol = std::min(text_.find('\n', pos), n);
    std::vector<std::string> first = words(text_.substr(pos, eol - pos));
    if (first[0] == ".version" || first[0] == ".target" ||
        first[0] == ".address_size" || first[0] == ".file" ||
        first[0] == ".loc") {
      if (!statement(start, eol, 0, 0))
        return false;
      pos = eol;
      continue;
    }
    while (pos < n && !ended) {
      char c = text_[pos];
      if (c == '"') {
        size_t close = text_.find('"', pos + 1);
        if (close == std::string::npos)
          return fail(pos, "unterminated string");
        pos = close + 1;
        continue;
      }
      if (c == '(')
        ++parens;
      else if (c == ')')
        --parens;
      else if (c == '}')
        return fail(pos, "syntax error at '}'");
      if (c == ';' && parens == 0) {
        ended = true;
      } else if (c == '{' && parens == 0) {
        int depth = 0;
        size_t close = pos;
        for (; close < n; ++close) {
          depth += text_[close] == '{';
          depth -= text_[close] == '}';
          if (depth == 0)
            break;
        }
        if (close == n)
          return fail(pos, "unexpected end of file: '{' is not closed");
        std::vector<std::string> head = words(text_.substr(start, pos - start));
        bool function =
            std::find(head.begin(), head.end(), ".entry") != head.end() ||
            std::find(head.begin(), head.end(), ".func") != head.end();
        if (function) {
          bodyStart = pos + 1;
          bodyEnd = close;
          ended = true;
        }
        pos = close;
      }
      ++pos;
    }
    if (!ended)
      return fail(start, "syntax error at '" +
                             words(text_.substr(start, pos - start))[0] +
                             "': a statement without ';'");
    if (!statement(start, pos, bodyStart, bodyEnd))
      return false;
  }
  if (statements_ == 0)
    return fail(0, "empty PTX: no .version directive");
  if (module_.entries.empty())
    return fail(n, "no .entry: the module has no kernel");

  // Module-scope shared variables belong to the kernels that name them (or
  // to every kernel, when a device function names them).
  for (size_t i = 0; i < module_.entries.size(); ++i) {
    std::vector<Declared> reached;
    for (const Declared &d : moduleShared_) {
      bool named = mentions(entryBodies_[i], d.name);
      for (const std::string &body : funcBodies_)
        named = named || mentions(body, d.name);
      if (named)
        reached.push_back(d);
    }
    module_.entries[i].staticSharedBytes = ownShared_[i] + laidOut(reached);
  }
  return true;
}

bool Reader::statement(size_t start, size_t end, size_t bodyStart,
                       size_t bodyEnd) {
  std::string head =
      text_.substr(start, (bodyStart ? bodyStart - 1 : end) - start);
  std::vector<std::string> w = words(head);
  if (!w.empty() && w.back() == ";")
    w.pop_back();
  if (!w.empty() && !w.back().empty() && w.back().back() == ';')
    w.back().pop_back();
  if (w.empty() || w[0][0] != '.')
    return fail(start, "syntax error at '" + (w.empty() ? ";" : w[0]) + "'");
  int index = statements_++;
  if (index == 0 && w[0] != ".version")
    return fail(start, "the module must start with .version, not " + w[0]);
  if (w[0] == ".version") {
    if (index != 0)
      return fail(start, ".version may appear only once, first");
    size_t dot = w.size() == 2 ? w[1].find('.') : std::string::npos;
    if (dot == std::string::npos)
      return fail(start, ".version needs MAJOR.MINOR");
    module_.versionMajor = std::atoi(w[1].substr(0, dot).c_str());
    module_.versionMinor = std::atoi(w[1].substr(dot + 1).c_str());
    return true;
  }
  if (index == 1 && w[0] != ".target")
    return fail(start, ".target must follow .version");
  if (w[0] == ".target") {
    if (index != 1 || w.size() < 2)
      return fail(start, ".target must follow .version and name a chip");
    module_.target = w[1];
    return true;
  }
  if (w[0] == ".address_size") {
    if (w.size() != 2 || w[1] != "64")
      return fail(start, "only .address_size 64 is supported");
    return true;
  }
  size_t at = 0;
  bool external = false;
  while (at < w.size() &&
         (w[at] == ".visible" || w[at] == ".weak" || w[at] == ".extern")) {
    external = external || w[at] == ".extern";
    ++at;
  }
  if (at == w.size())
    return fail(start, "syntax error: a linkage directive alone");
  const std::string &kind = w[at];
  if (kind == ".entry")
    return entry(w, at + 1, start, bodyStart, bodyEnd);
  if (kind == ".func") {
    if (bodyStart)
      funcBodies_.push_back(text_.substr(bodyStart, bodyEnd - bodyStart));
    return true;
  }
  if (kind == ".shared") {
    std::vector<Declared> variables;
    if (!parseVariables(w, at + 1, variables))
      return fail(start, "cannot read the .shared declaration");
    for (Declared &d : variables)
      moduleShared_.push_back(d);
    return true;
  }
  static const std::set<std::string> other = {".global", ".const",   ".local",
                                              ".file",   ".section", ".loc",
                                              ".alias",  ".pragma",  ".common"};
  if (!other.count(kind))
    return fail(start, "syntax error at '" + kind + "'");
  return true;
}

bool Reader::dims(const std::vector<std::string> &w, size_t &at,
                  std::array<unsigned, 3> &out) {
  for (int i = 0; i < 3; ++i) {
    unsigned long long n = 0;
    if (at >= w.size() || !parseUnsigned(w[at], n) || n == 0 || n > 1u << 20)
      return i > 0;
    out[i] = static_cast<unsigned>(n);
    for (int j = i + 1; j < 3; ++j)
      out[j] = 1;
    ++at;
    if (at >= w.size() || w[at] != ",")
      return true;
    ++at;
  }
  return true;
}

bool Reader::entry(const std::vector<std::string> &w, size_t at, size_t start,
                   size_t bodyStart, size_t bodyEnd) {
  if (!bodyStart)
    return fail(start, ".entry without a body");
  if (at >= w.size() || !isNameChar(w[at][0]))
    return fail(start, ".entry without a name");
  PtxEntry e;
  e.name = w[at++];
  if (at < w.size() && w[at] == "(") {
    ++at;
    std::vector<std::string> param;
    auto finish = [&]() -> bool {
      if (param.empty())
        return true;
      if (param[0] != ".param")
        return false;
      PtxParam p;
      std::vector<Declared> declared;
      if (!parseVariables(param, 1, declared) || declared.size() != 1)
        return false;
      p.name = declared[0].name;
      p.bytes = declared[0].bytes;
      p.pointer = std::find(param.begin(), param.end(), ".ptr") != param.end();
      e.params.push_back(p);
      param.clear();
      return true;
    };
    for (; at < w.size() && w[at] != ")"; ++at) {
      if (w[at] == ",") {
        if (!finish())
          return fail(start, "cannot read a parameter of " + e.name);
      } else {
        param.push_back(w[at]);
      }
    }
    if (at == w.size() || !finish())
      return fail(start, "cannot read the parameters of " + e.name);
    ++at;
  }
  while (at < w.size()) {
    const std::string &d = w[at++];
    unsigned long long n = 0;
    if (d == ".maxntid" || d == ".reqntid") {
      if (!dims(w, at, d == ".maxntid" ? e.maxntid : e.reqntid))
        return fail(start, d + " of " + e.name + " needs 1 to 3 sizes");
    } else if (d == ".maxnreg") {
      if (at >= w.size() || !parseUnsigned(w[at++], n) || n == 0 || n > 255)
        return fail(start, ".maxnreg of " + e.name + " must be in [1, 255]");
      e.maxnreg = static_cast<unsigned>(n);
    } else if (d == ".minnctapersm" || d == ".maxnctapersm" ||
               d == ".maxclusterrank" || d == ".reqnctapercluster") {
      while (at < w.size() && (parseUnsigned(w[at], n) || w[at] == ","))
        ++at;
    } else if (d != ".noreturn" && d != ".explicitcluster" &&
               d != ".blocksareclusters") {
      return fail(start, "unknown directive '" + d + "' on " + e.name);
    }
  }
  std::array<unsigned, 3> threads = e.reqntid[0] ? e.reqntid : e.maxntid;
  if (threads[0] && uint64_t(threads[0]) * threads[1] * threads[2] > 1024)
    return fail(start, e.name + " declares blocks of more than 1024 threads");

  // The body's own shared variables: statements that start with .shared.
  std::string body = text_.substr(bodyStart, bodyEnd - bodyStart);
  std::vector<Declared> own;
  size_t from = 0;
  while (from < body.size()) {
    size_t stop = body.find_first_of(";{}", from);
    if (stop == std::string::npos)
      stop = body.size();
    std::vector<std::string> s = words(body.substr(from, stop - from));
    // A label may precede a statement.
    while (!s.empty() && s[0].back() == ':')
      s.erase(s.begin());
    if (!s.empty() && s[0] == ".shared" && !parseVariables(s, 1, own))
      return fail(bodyStart + from,
                  "cannot read a .shared declaration in " + e.name);
    from = stop + 1;
  }
  ownShared_.push_back(laidOut(own));
  entryBodies_.push_back(std::move(body));
  module_.entries.push_back(std::move(e));
  return true;
}

} // namespace

bool parsePtx(const std::string &text, PtxModule &module, PtxError &error) {
  module = PtxModule();
  return Reader(text, module, error).read();
}

} // namespace dgc::standin
