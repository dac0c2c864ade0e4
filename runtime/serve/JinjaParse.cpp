//===- JinjaParse.cpp - Chat templates: lexer and parser ------------------===//
//
// Whitespace follows transformers' environment (trim_blocks, lstrip_blocks,
// no trailing newline kept) and Jinja's lexer: newlines are normalised,
// `-` strips all whitespace beside a tag, `+` keeps it. Expression
// precedence is Jinja's: or < and < not < comparison and `in` < + - < ~ <
// * / // % < ** < unary minus < postfix (., [], ()) and filters and tests.
//
//===----------------------------------------------------------------------===//

#include "Jinja.h"

#include <cctype>
#include <set>

namespace dgc::serve::jinja {

namespace {

[[noreturn]] void fail(int line, const std::string &message) {
  throw ParseError{line, message};
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

struct Piece {
  enum class K { Text, Var, Block } k;
  std::string text; // the text, or the tag's inside
  int line = 0;
};

/// Splits the source into text and tags, applying whitespace control.
std::vector<Piece> lex(std::string source) {
  std::string s;
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n')
        ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n')
    s.pop_back();

  std::vector<Piece> pieces;
  std::string text;
  bool lineStarting = true; // the text begins a line
  int line = 1, textLine = 1;
  size_t i = 0;
  auto flushText = [&] {
    pieces.push_back({Piece::K::Text, text, textLine});
    text.clear();
  };
  while (i < s.size()) {
    if (s[i] != '{' || i + 1 >= s.size() ||
        (s[i + 1] != '{' && s[i + 1] != '%' && s[i + 1] != '#')) {
      if (s[i] == '\n')
        ++line;
      text += s[i++];
      continue;
    }
    char kind = s[i + 1];
    int tagLine = line;
    size_t p = i + 2;
    char left = p < s.size() && (s[p] == '-' || s[p] == '+') ? s[p] : 0;
    if (left)
      ++p;
    // Left side: '-' strips all whitespace before; block and comment tags
    // at the start of a line take the line's indentation with them.
    if (left == '-') {
      while (!text.empty() && isSpace(text.back()))
        text.pop_back();
    } else if (left != '+' && kind != '{') {
      size_t start = text.rfind('\n');
      start = start == std::string::npos ? 0 : start + 1;
      bool blank = true;
      for (size_t j = start; j < text.size(); ++j)
        blank = blank && isSpace(text[j]);
      if ((start > 0 || lineStarting) && blank)
        text.erase(start);
    }
    // The inside, to the closing marker outside string literals.
    const char close = kind == '{' ? '}' : kind == '%' ? '%' : '#';
    size_t q = p;
    char quote = 0;
    int depth = 0;
    size_t end = std::string::npos;
    for (; q < s.size(); ++q) {
      char c = s[q];
      if (c == '\n')
        ++line;
      if (kind != '#' && quote) {
        if (c == '\\')
          ++q;
        else if (c == quote)
          quote = 0;
        continue;
      }
      if (kind != '#' && (c == '\'' || c == '"')) {
        quote = c;
      } else if (kind == '{' && c == '{') {
        ++depth;
      } else if (c == close && q + 1 < s.size() && s[q + 1] == '}' &&
                 (kind != '{' || depth == 0)) {
        end = q;
        break;
      } else if (kind == '{' && c == '}') {
        --depth;
      }
    }
    if (end == std::string::npos)
      fail(tagLine, std::string("unclosed '{") + kind + "'");
    size_t innerEnd = end;
    char right = 0;
    if (innerEnd > p && (s[innerEnd - 1] == '-' || s[innerEnd - 1] == '+'))
      right = s[--innerEnd];
    std::string inner = s.substr(p, innerEnd - p);
    flushText();
    if (kind != '#')
      pieces.push_back(
          {kind == '{' ? Piece::K::Var : Piece::K::Block, inner, tagLine});
    i = end + 2;
    lineStarting = false;
    if (right == '-') {
      while (i < s.size() && isSpace(s[i])) {
        if (s[i] == '\n')
          ++line;
        ++i;
      }
    } else if (right != '+' && kind != '{' && i < s.size() && s[i] == '\n') {
      ++i; // trim_blocks
      ++line;
      lineStarting = true;
    }
    textLine = line;
  }
  flushText();
  return pieces;
}

struct Token {
  enum class K { Name, String, Int, Float, Op, End } k;
  std::string text;
  nlohmann::json value;
};

std::vector<Token> tokenize(const std::string &s, int line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (isSpace(c)) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_'))
        ++j;
      out.push_back({Token::K::Name, s.substr(i, j - i), {}});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool real = false;
      while (j < s.size() &&
             (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_' ||
              (s[j] == '.' && !real && j + 1 < s.size() &&
               std::isdigit(static_cast<unsigned char>(s[j + 1]))))) {
        real = real || s[j] == '.';
        ++j;
      }
      std::string digits;
      for (size_t k = i; k < j; ++k)
        if (s[k] != '_')
          digits += s[k];
      if (real)
        out.push_back({Token::K::Float, digits, std::stod(digits)});
      else if (digits.size() > 18)
        fail(line, "integer literal " + digits + " is too large");
      else
        out.push_back({Token::K::Int, digits, std::stoll(digits)});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string value;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] != '\\') {
          value += s[j];
          continue;
        }
        if (++j >= s.size())
          break;
        switch (s[j]) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case '0':
          value += '\0';
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case '\n':
          break;
        default:
          fail(line, std::string("unsupported escape '\\") + s[j] +
                         "' in a string literal");
        }
      }
      if (j >= s.size())
        fail(line, "unterminated string literal");
      out.push_back({Token::K::String, s.substr(i, j + 1 - i), value});
      i = j + 1;
    } else {
      static const char *const ops[] = {
          "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
          ">",  "=",  "(",  ")",  "[",  "]",  "{", "}", ",", ".", ":", "|"};
      std::string op;
      for (const char *o : ops)
        if (s.compare(i, std::char_traits<char>::length(o), o) == 0) {
          op = o;
          break;
        }
      if (op.empty())
        fail(line, std::string("unexpected character '") + c + "'");
      out.push_back({Token::K::Op, op, {}});
      i += op.size();
    }
  }
  out.push_back({Token::K::End, "", {}});
  return out;
}

const std::set<std::string> kFilters = {
    "trim",   "upper",      "lower",      "default",    "d",       "length",
    "count",  "dictsort",   "items",      "list",       "map",     "join",
    "first",  "last",       "string",     "tojson",     "safe",    "int",
    "float",  "capitalize", "replace",    "abs",        "reverse", "unique",
    "select", "reject",     "selectattr", "rejectattr", "indent",  "sum",
    "min",    "max",        "sort",       "wordcount",  "title",   "escape",
    "e"};
const std::set<std::string> kTests = {
    "defined",  "undefined", "none",   "string",  "mapping",    "sequence",
    "iterable", "boolean",   "number", "integer", "float",      "true",
    "false",    "odd",       "even",   "eq",      "equalto",    "ne",
    "callable", "in",        "lower",  "upper",   "divisibleby"};

class ExprParser {
public:
  ExprParser(std::vector<Token> tokens, int line)
      : t(std::move(tokens)), line(line) {}

  ExprP expression() {
    ExprP e = orExpr();
    if (isName("if")) {
      ++pos;
      auto cond = make(Expr::K::Cond);
      ExprP test = orExpr();
      ExprP other;
      if (isName("else")) {
        ++pos;
        other = expression();
      }
      cond->args.push_back(std::move(e));
      cond->args.push_back(std::move(test));
      if (other)
        cond->args.push_back(std::move(other));
      return cond;
    }
    return e;
  }
  /// `a` or `a, b` (for loop targets).
  std::vector<std::string> targets() {
    std::vector<std::string> names = {name()};
    while (isOp(",")) {
      ++pos;
      names.push_back(name());
    }
    return names;
  }
  std::string name() {
    if (t[pos].k != Token::K::Name)
      fail(line, "expected a name, got '" + t[pos].text + "'");
    return t[pos++].text;
  }
  bool isName(const char *n) const {
    return t[pos].k == Token::K::Name && t[pos].text == n;
  }
  bool isOp(const char *o) const {
    return t[pos].k == Token::K::Op && t[pos].text == o;
  }
  void expectOp(const char *o) {
    if (!isOp(o))
      fail(line, std::string("expected '") + o + "', got '" +
                     (t[pos].k == Token::K::End ? "end of tag" : t[pos].text) +
                     "'");
    ++pos;
  }
  void expectName(const char *n) {
    if (!isName(n))
      fail(line, std::string("expected '") + n + "'");
    ++pos;
  }
  void expectEnd() {
    if (t[pos].k != Token::K::End)
      fail(line, "unexpected '" + t[pos].text + "'");
  }
  bool atEnd() const { return t[pos].k == Token::K::End; }

private:
  ExprP make(Expr::K k) {
    auto e = std::make_unique<Expr>();
    e->k = k;
    e->line = line;
    return e;
  }
  ExprP binary(const std::string &op, ExprP a, ExprP b) {
    auto e = make(Expr::K::Binary);
    e->name = op;
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
  ExprP orExpr() {
    ExprP e = andExpr();
    while (isName("or")) {
      ++pos;
      auto o = make(Expr::K::Or);
      o->args.push_back(std::move(e));
      o->args.push_back(andExpr());
      e = std::move(o);
    }
    return e;
  }
  ExprP andExpr() {
    ExprP e = notExpr();
    while (isName("and")) {
      ++pos;
      auto a = make(Expr::K::And);
      a->args.push_back(std::move(e));
      a->args.push_back(notExpr());
      e = std::move(a);
    }
    return e;
  }
  ExprP notExpr() {
    if (isName("not")) {
      ++pos;
      auto n = make(Expr::K::Not);
      n->args.push_back(notExpr());
      return n;
    }
    return compare();
  }
  ExprP compare() {
    ExprP e = sum();
    for (;;) {
      static const char *const ops[] = {"==", "!=", "<", ">", "<=", ">="};
      bool matched = false;
      for (const char *op : ops)
        if (isOp(op)) {
          ++pos;
          e = binary(op, std::move(e), sum());
          matched = true;
          break;
        }
      if (matched)
        continue;
      if (isName("in")) {
        ++pos;
        e = binary("in", std::move(e), sum());
      } else if (isName("not") && t[pos + 1].k == Token::K::Name &&
                 t[pos + 1].text == "in") {
        pos += 2;
        auto n = make(Expr::K::Not);
        n->args.push_back(binary("in", std::move(e), sum()));
        e = std::move(n);
      } else {
        return e;
      }
    }
  }
  ExprP sum() {
    ExprP e = concat();
    while (isOp("+") || isOp("-")) {
      std::string op = t[pos++].text;
      e = binary(op, std::move(e), concat());
    }
    return e;
  }
  ExprP concat() {
    ExprP e = product();
    while (isOp("~")) {
      ++pos;
      e = binary("~", std::move(e), product());
    }
    return e;
  }
  ExprP product() {
    ExprP e = power();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      std::string op = t[pos++].text;
      e = binary(op, std::move(e), power());
    }
    return e;
  }
  ExprP power() {
    ExprP e = unary();
    while (isOp("**")) {
      ++pos;
      e = binary("**", std::move(e), unary());
    }
    return e;
  }
  ExprP unary() {
    if (isOp("-")) {
      ++pos;
      auto n = make(Expr::K::Neg);
      n->args.push_back(unary());
      return n;
    }
    if (isOp("+")) {
      ++pos;
      return unary();
    }
    return filters(postfix(primary()));
  }
  void callArgs(Expr &e) {
    expectOp("(");
    while (!isOp(")")) {
      if (t[pos].k == Token::K::Name && t[pos + 1].k == Token::K::Op &&
          t[pos + 1].text == "=") {
        std::string key = t[pos].text;
        pos += 2;
        e.kwargs.emplace_back(key, expression());
      } else {
        if (!e.kwargs.empty())
          fail(line, "a positional argument after a keyword argument");
        e.args.push_back(expression());
      }
      if (!isOp(","))
        break;
      ++pos;
    }
    expectOp(")");
  }
  ExprP postfix(ExprP e) {
    for (;;) {
      if (isOp(".")) {
        ++pos;
        auto a = make(Expr::K::Attr);
        if (t[pos].k == Token::K::Int) { // x.0 is x[0]
          a->k = Expr::K::Item;
          a->args.push_back(std::move(e));
          auto index = make(Expr::K::Literal);
          index->value = t[pos++].value;
          a->args.push_back(std::move(index));
        } else {
          a->name = name();
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (isOp("[")) {
        ++pos;
        std::vector<ExprP> parts(3);
        int part = 0;
        bool slice = false;
        while (!isOp("]")) {
          if (isOp(":")) {
            ++pos;
            slice = true;
            if (++part > 2)
              fail(line, "too many ':' in a slice");
            continue;
          }
          parts[part] = expression();
        }
        ++pos;
        auto item = make(slice ? Expr::K::Slice : Expr::K::Item);
        item->args.push_back(std::move(e));
        if (!slice && !parts[0])
          fail(line, "empty subscript");
        for (int k = 0; k < (slice ? 3 : 1); ++k)
          item->args.push_back(std::move(parts[k]));
        e = std::move(item);
      } else if (isOp("(")) {
        auto call = make(Expr::K::Call);
        call->args.push_back(std::move(e));
        callArgs(*call);
        e = std::move(call);
      } else {
        return e;
      }
    }
  }
  ExprP filters(ExprP e) {
    for (;;) {
      if (isOp("|")) {
        ++pos;
        auto f = make(Expr::K::Filter);
        f->name = name();
        if (!kFilters.count(f->name))
          fail(line, "unsupported filter '" + f->name + "'");
        f->args.push_back(std::move(e));
        if (isOp("("))
          callArgs(*f);
        e = std::move(f);
      } else if (isName("is")) {
        ++pos;
        auto test = make(Expr::K::Test);
        if (isName("not")) {
          ++pos;
          test->negated = true;
        }
        // `none`, `true` and `false` are names here, not literals.
        test->name = name();
        if (!kTests.count(test->name))
          fail(line, "unsupported test '" + test->name + "'");
        test->args.push_back(std::move(e));
        if (isOp("("))
          callArgs(*test);
        else if (t[pos].k == Token::K::String || t[pos].k == Token::K::Int ||
                 t[pos].k == Token::K::Float)
          test->args.push_back(primary());
        e = std::move(test);
      } else if (isOp("(")) {
        auto call = make(Expr::K::Call);
        call->args.push_back(std::move(e));
        callArgs(*call);
        e = std::move(call);
      } else {
        return e;
      }
    }
  }
  ExprP primary() {
    const Token &tok = t[pos];
    auto literal = [&](nlohmann::json v) {
      ++pos;
      auto l = make(Expr::K::Literal);
      l->value = std::move(v);
      return l;
    };
    switch (tok.k) {
    case Token::K::String: {
      std::string v = tok.value.get<std::string>();
      ++pos;
      while (t[pos].k == Token::K::String) // adjacent literals concatenate
        v += t[pos++].value.get<std::string>();
      --pos;
      return literal(v);
    }
    case Token::K::Int:
    case Token::K::Float:
      return literal(tok.value);
    case Token::K::Name:
      if (tok.text == "true" || tok.text == "True")
        return literal(true);
      if (tok.text == "false" || tok.text == "False")
        return literal(false);
      if (tok.text == "none" || tok.text == "None")
        return literal(nullptr);
      {
        auto n = make(Expr::K::Name);
        n->name = tok.text;
        ++pos;
        return n;
      }
    case Token::K::Op:
      if (tok.text == "(") {
        ++pos;
        ExprP e = expression();
        if (isOp(","))
          fail(line, "tuples are not supported; use a list");
        expectOp(")");
        return e;
      }
      if (tok.text == "[") {
        ++pos;
        auto l = make(Expr::K::List);
        while (!isOp("]")) {
          l->args.push_back(expression());
          if (!isOp(","))
            break;
          ++pos;
        }
        expectOp("]");
        return l;
      }
      if (tok.text == "{") {
        ++pos;
        auto d = make(Expr::K::Dict);
        while (!isOp("}")) {
          if (t[pos].k != Token::K::String)
            fail(line, "dict literal keys must be strings");
          std::string key = t[pos++].value.get<std::string>();
          expectOp(":");
          d->kwargs.emplace_back(key, expression());
          if (!isOp(","))
            break;
          ++pos;
        }
        expectOp("}");
        return d;
      }
      break;
    case Token::K::End:
      fail(line, "expected an expression");
    }
    fail(line, "unexpected '" + tok.text + "'");
  }

  std::vector<Token> t;
  size_t pos = 0;
  int line;
};

class Parser {
public:
  explicit Parser(std::vector<Piece> pieces) : p(std::move(pieces)) {}

  Body parseAll() {
    std::string ended;
    Body b = body({}, ended);
    return b;
  }

private:
  /// Nodes up to a block tag whose keyword is in `ends` (returned in
  /// `ended`, its parser left at the tag's rest in `rest`).
  Body body(const std::set<std::string> &ends, std::string &ended) {
    Body out;
    while (i < p.size()) {
      const Piece &piece = p[i++];
      if (piece.k == Piece::K::Text) {
        if (piece.text.empty())
          continue;
        auto n = node(Node::K::Text, piece.line);
        n->text = piece.text;
        out.push_back(std::move(n));
        continue;
      }
      ExprParser e(tokenize(piece.text, piece.line), piece.line);
      if (piece.k == Piece::K::Var) {
        auto n = node(Node::K::Output, piece.line);
        n->expr = e.expression();
        e.expectEnd();
        out.push_back(std::move(n));
        continue;
      }
      std::string keyword = e.name();
      if (ends.count(keyword)) {
        ended = keyword;
        rest = std::make_unique<ExprParser>(std::move(e));
        restLine = piece.line;
        return out;
      }
      out.push_back(statement(keyword, e, piece.line));
    }
    if (!ends.empty())
      fail(p.empty() ? 1 : p.back().line,
           "missing '{% " + *ends.rbegin() + " %}' at the end");
    return out;
  }

  NodeP node(Node::K k, int line) {
    auto n = std::make_unique<Node>();
    n->k = k;
    n->line = line;
    return n;
  }

  NodeP statement(const std::string &keyword, ExprParser &e, int line) {
    std::string ended;
    if (keyword == "if") {
      auto n = node(Node::K::If, line);
      ExprP cond = e.expression();
      e.expectEnd();
      for (;;) {
        Body b = body({"elif", "else", "endif"}, ended);
        n->branches.emplace_back(std::move(cond), std::move(b));
        if (ended == "endif")
          break;
        if (ended == "elif") {
          cond = rest->expression();
          rest->expectEnd();
          continue;
        }
        rest->expectEnd();
        Body last = body({"endif"}, ended);
        n->branches.emplace_back(nullptr, std::move(last));
        break;
      }
      rest->expectEnd();
      return n;
    }
    if (keyword == "for") {
      auto n = node(Node::K::For, line);
      n->targets = e.targets();
      e.expectName("in");
      n->expr = e.expression();
      if (e.isName("if")) { // `for x in xs if cond`: parsed by expression()
        fail(line, "unexpected 'if'");
      }
      if (n->expr->k == Expr::K::Cond) { // for x in xs if cond
        ExprP cond = std::move(n->expr);
        if (cond->args.size() != 2)
          fail(line, "a loop filter takes no 'else'");
        n->expr = std::move(cond->args[0]);
        n->filter = std::move(cond->args[1]);
      }
      if (e.isName("recursive"))
        fail(line, "recursive loops are not supported");
      e.expectEnd();
      ++loops;
      n->body = body({"else", "endfor"}, ended);
      if (ended == "else") {
        rest->expectEnd();
        n->elseBody = body({"endfor"}, ended);
      }
      --loops;
      rest->expectEnd();
      return n;
    }
    if (keyword == "set") {
      std::string target = e.name();
      if (e.isOp(".")) {
        auto n = node(Node::K::SetAttr, line);
        e.expectOp(".");
        n->text = target;
        n->attr = e.name();
        e.expectOp("=");
        n->expr = e.expression();
        e.expectEnd();
        return n;
      }
      if (e.atEnd())
        fail(line, "block assignments ({% set x %}...{% endset %}) are not "
                   "supported");
      if (e.isOp(","))
        fail(line, "unpacking assignments are not supported");
      auto n = node(Node::K::Set, line);
      n->text = target;
      e.expectOp("=");
      n->expr = e.expression();
      e.expectEnd();
      return n;
    }
    if (keyword == "macro") {
      auto n = node(Node::K::Macro, line);
      n->text = e.name();
      e.expectOp("(");
      while (!e.isOp(")")) {
        n->targets.push_back(e.name());
        ExprP def;
        if (e.isOp("=")) {
          e.expectOp("=");
          def = e.expression();
        }
        n->defaults.push_back(std::move(def));
        if (!e.isOp(","))
          break;
        e.expectOp(",");
      }
      e.expectOp(")");
      e.expectEnd();
      int outer = loops;
      loops = 0;
      n->body = body({"endmacro"}, ended);
      loops = outer;
      rest->expectEnd();
      return n;
    }
    if (keyword == "break" || keyword == "continue") {
      if (!loops)
        fail(line, "'" + keyword + "' outside a loop");
      e.expectEnd();
      return node(keyword == "break" ? Node::K::Break : Node::K::Continue,
                  line);
    }
    fail(line, "unsupported tag '" + keyword + "'");
  }

  std::vector<Piece> p;
  size_t i = 0;
  std::unique_ptr<ExprParser> rest;
  int restLine = 0;
  int loops = 0;
};

} // namespace

std::shared_ptr<Template> parseTemplate(std::string_view text) {
  auto t = std::make_shared<Template>();
  Parser parser(lex(std::string(text)));
  t->body = parser.parseAll();
  return t;
}

} // namespace dgc::serve::jinja
