//===- JinjaRender.cpp - Chat templates: rendering ------------------------===//
//
// Values behave as Python's under jinja2: lists and dicts are shared by
// reference, undefined prints as nothing and is false, str() of None is
// "None", `+` refuses mixed types, `x.y` prefers a method to a key and
// `x['y']` a key to a method. Loops, output and macro recursion are bounded
// so that no template can hang or exhaust the server.
//
//===----------------------------------------------------------------------===//

#include "ChatTemplate.h"
#include "Jinja.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

namespace dgc::serve {
namespace jinja {

namespace {

struct RenderError {
  int line;
  std::string message;
};

struct Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>; // insertion order

struct Value {
  enum class T {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Dict,
    Namespace,
    Macro,
    Function
  };
  T t = T::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s; // String; Undefined: the name that was missing
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict; // Dict and Namespace
  const Node *macro = nullptr;
  std::function<Value(std::vector<Value> &,
                      std::vector<std::pair<std::string, Value>> &)>
      fn;

  static Value none() { return make(T::None); }
  static Value boolean(bool v) {
    Value x = make(T::Bool);
    x.b = v;
    return x;
  }
  static Value integer(int64_t v) {
    Value x = make(T::Int);
    x.i = v;
    return x;
  }
  static Value real(double v) {
    Value x = make(T::Float);
    x.f = v;
    return x;
  }
  static Value string(std::string v) {
    Value x = make(T::String);
    x.s = std::move(v);
    return x;
  }
  static Value newList(List v = {}) {
    Value x = make(T::List);
    x.list = std::make_shared<List>(std::move(v));
    return x;
  }
  static Value newDict(Dict v = {}, T t = T::Dict) {
    Value x = make(t);
    x.dict = std::make_shared<Dict>(std::move(v));
    return x;
  }
  static Value undefined(std::string name) {
    Value x;
    x.s = std::move(name);
    return x;
  }
  static Value make(T t) {
    Value x;
    x.t = t;
    return x;
  }
  bool isNumber() const { return t == T::Int || t == T::Float || t == T::Bool; }
  double number() const {
    return t == T::Float ? f : t == T::Int ? double(i) : double(b);
  }
  const Value *find(const std::string &key) const {
    if (!dict)
      return nullptr;
    for (auto &[k, v] : *dict)
      if (k == key)
        return &v;
    return nullptr;
  }
};

template <typename Json> Value fromJson(const Json &j) {
  switch (j.type()) {
  case nlohmann::json::value_t::null:
    return Value::none();
  case nlohmann::json::value_t::boolean:
    return Value::boolean(j.template get<bool>());
  case nlohmann::json::value_t::number_integer:
    return Value::integer(j.template get<int64_t>());
  case nlohmann::json::value_t::number_unsigned:
    return j.template get<uint64_t>() > uint64_t(INT64_MAX)
               ? Value::real(double(j.template get<uint64_t>()))
               : Value::integer(int64_t(j.template get<uint64_t>()));
  case nlohmann::json::value_t::number_float:
    return Value::real(j.template get<double>());
  case nlohmann::json::value_t::string:
    return Value::string(j.template get<std::string>());
  case nlohmann::json::value_t::array: {
    List l;
    for (const auto &e : j)
      l.push_back(fromJson(e));
    return Value::newList(std::move(l));
  }
  case nlohmann::json::value_t::object: {
    Dict d;
    for (auto &[k, v] : j.items())
      d.emplace_back(k, fromJson(v));
    return Value::newDict(std::move(d));
  }
  default:
    return Value::none();
  }
}

/// Code points of UTF-8 text, each as its bytes.
std::vector<std::string> codePoints(const std::string &s) {
  std::vector<std::string> out;
  for (size_t k = 0; k < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    size_t n = c < 0x80       ? 1
               : c >> 5 == 6  ? 2
               : c >> 4 == 14 ? 3
               : c >> 3 == 30 ? 4
                              : 1;
    n = std::min(n, s.size() - k);
    out.push_back(s.substr(k, n));
    k += n;
  }
  return out;
}

std::string floatRepr(double v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v < 0 ? "-inf" : "inf";
  char buf[64];
  int p = 1;
  for (; p < 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
  int e = std::atoi(std::strchr(buf, 'e') + 1);
  if (e >= -4 && e < 16) {
    std::snprintf(buf, sizeof buf, "%.*f", std::max(p - 1 - e, 1), v);
    return buf;
  }
  std::string s = buf; // Python writes 1e+16, 1.5e-05
  size_t at = s.find('e');
  std::string mant = s.substr(0, at), exp = s.substr(at + 1);
  char sign = exp[0];
  exp = exp.substr(1);
  while (exp.size() > 2 && exp[0] == '0')
    exp.erase(0, 1);
  return mant + "e" + sign + exp;
}

std::string repr(const Value &v);

std::string str(const Value &v) {
  switch (v.t) {
  case Value::T::Undefined:
    return "";
  case Value::T::None:
    return "None";
  case Value::T::Bool:
    return v.b ? "True" : "False";
  case Value::T::Int:
    return std::to_string(v.i);
  case Value::T::Float:
    return floatRepr(v.f);
  case Value::T::String:
    return v.s;
  case Value::T::List: {
    std::string out = "[";
    for (size_t k = 0; k < v.list->size(); ++k)
      out += (k ? ", " : "") + repr((*v.list)[k]);
    return out + "]";
  }
  case Value::T::Dict: {
    std::string out = "{";
    bool first = true;
    for (auto &[k, e] : *v.dict) {
      out += (first ? "" : ", ") + repr(Value::string(k)) + ": " + repr(e);
      first = false;
    }
    return out + "}";
  }
  case Value::T::Namespace:
    return "<Namespace>";
  default:
    return "<function>";
  }
}

std::string repr(const Value &v) {
  if (v.t != Value::T::String)
    return str(v);
  bool single =
      v.s.find('\'') == std::string::npos || v.s.find('"') != std::string::npos;
  char q = single ? '\'' : '"';
  std::string out(1, q);
  char hex[12];
  for (const std::string &cp : codePoints(v.s)) {
    // Python escapes what str.isprintable() refuses; these are the ones
    // text meets (controls, Latin-1's, the line and paragraph separators).
    unsigned char c0 = static_cast<unsigned char>(cp[0]);
    unsigned code = cp.size() == 2 ? ((c0 & 0x1f) << 6) | (cp[1] & 0x3f) : c0;
    if (cp.size() == 1 && (c0 < 0x20 || c0 == 0x7f) && c0 != '\n' &&
        c0 != '\t' && c0 != '\r') {
      std::snprintf(hex, sizeof hex, "\\x%02x", c0);
      out += hex;
      continue;
    }
    if (cp.size() == 2 && (code < 0xa1 || code == 0xad)) {
      std::snprintf(hex, sizeof hex, "\\x%02x", code);
      out += hex;
      continue;
    }
    if (cp == "\xe2\x80\xa8" || cp == "\xe2\x80\xa9") {
      out += cp == "\xe2\x80\xa8" ? "\\u2028" : "\\u2029";
      continue;
    }
    if (cp.size() > 1) {
      out += cp;
      continue;
    }
    char c = cp[0];
    if (c == '\\')
      out += "\\\\";
    else if (c == q)
      out += std::string("\\") + q;
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else
      out += c;
  }
  return out + q;
}

bool truthy(const Value &v) {
  switch (v.t) {
  case Value::T::Undefined:
  case Value::T::None:
    return false;
  case Value::T::Bool:
    return v.b;
  case Value::T::Int:
    return v.i != 0;
  case Value::T::Float:
    return v.f != 0;
  case Value::T::String:
    return !v.s.empty();
  case Value::T::List:
    return !v.list->empty();
  case Value::T::Dict:
    return !v.dict->empty();
  default:
    return true;
  }
}

bool equal(const Value &a, const Value &b) {
  if (a.isNumber() && b.isNumber())
    return a.number() == b.number();
  if (a.t != b.t)
    return false;
  switch (a.t) {
  case Value::T::Undefined:
  case Value::T::None:
    return true;
  case Value::T::String:
    return a.s == b.s;
  case Value::T::List:
    if (a.list->size() != b.list->size())
      return false;
    for (size_t k = 0; k < a.list->size(); ++k)
      if (!equal((*a.list)[k], (*b.list)[k]))
        return false;
    return true;
  case Value::T::Dict:
    if (a.dict->size() != b.dict->size())
      return false;
    for (auto &[k, v] : *a.dict) {
      const Value *o = b.find(k);
      if (!o || !equal(v, *o))
        return false;
    }
    return true;
  default:
    return a.dict == b.dict && a.macro == b.macro;
  }
}

bool isPythonSpace(const std::string &cp) {
  static const char *const spaces[] = {" ",
                                       "\t",
                                       "\n",
                                       "\v",
                                       "\f",
                                       "\r",
                                       "\x1c",
                                       "\x1d",
                                       "\x1e",
                                       "\x1f",
                                       "\xc2\x85",
                                       "\xc2\xa0",
                                       "\xe1\x9a\x80",
                                       "\xe2\x80\x80",
                                       "\xe2\x80\x81",
                                       "\xe2\x80\x82",
                                       "\xe2\x80\x83",
                                       "\xe2\x80\x84",
                                       "\xe2\x80\x85",
                                       "\xe2\x80\x86",
                                       "\xe2\x80\x87",
                                       "\xe2\x80\x88",
                                       "\xe2\x80\x89",
                                       "\xe2\x80\x8a",
                                       "\xe2\x80\xa8",
                                       "\xe2\x80\xa9",
                                       "\xe2\x80\xaf",
                                       "\xe2\x81\x9f",
                                       "\xe3\x80\x80"};
  for (const char *s : spaces)
    if (cp == s)
      return true;
  return false;
}

/// Python's str.strip / lstrip / rstrip, of whitespace or of `chars`.
std::string strip(const std::string &s, bool left, bool right,
                  const std::string *chars = nullptr) {
  std::vector<std::string> cps = codePoints(s);
  std::vector<std::string> set;
  if (chars)
    set = codePoints(*chars);
  auto drop = [&](const std::string &cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end()
                 : isPythonSpace(cp);
  };
  size_t b = 0, e = cps.size();
  while (left && b < e && drop(cps[b]))
    ++b;
  while (right && e > b && drop(cps[e - 1]))
    --e;
  std::string out;
  for (size_t k = b; k < e; ++k)
    out += cps[k];
  return out;
}

std::string jsonString(const std::string &s) {
  return nlohmann::json(s).dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace);
}

/// transformers' tojson: json.dumps(ensure_ascii=False), Python's separators.
std::string toJson(const Value &v, int line) {
  switch (v.t) {
  case Value::T::None:
  case Value::T::Undefined:
    return "null";
  case Value::T::Bool:
    return v.b ? "true" : "false";
  case Value::T::Int:
    return std::to_string(v.i);
  case Value::T::Float:
    return std::isfinite(v.f) ? floatRepr(v.f)
                              : (std::isnan(v.f) ? "NaN"
                                 : v.f < 0       ? "-Infinity"
                                                 : "Infinity");
  case Value::T::String:
    return jsonString(v.s);
  case Value::T::List: {
    std::string out = "[";
    for (size_t k = 0; k < v.list->size(); ++k)
      out += (k ? ", " : "") + toJson((*v.list)[k], line);
    return out + "]";
  }
  case Value::T::Dict: {
    std::string out = "{";
    bool first = true;
    for (auto &[k, e] : *v.dict) {
      out += (first ? "" : ", ") + jsonString(k) + ": " + toJson(e, line);
      first = false;
    }
    return out + "}";
  }
  default:
    throw RenderError{line, "tojson: a function is not JSON"};
  }
}

std::string typeOf(const Value &v) {
  static const char *const names[] = {"undefined", "None",  "bool",    "int",
                                      "float",     "str",   "list",    "dict",
                                      "namespace", "macro", "function"};
  return names[static_cast<int>(v.t)];
}

constexpr size_t kMaxOutput = 8 << 20;
constexpr int64_t kMaxIterations = 1 << 22;
constexpr int kMaxDepth = 64;

struct Frame {
  std::map<std::string, Value> vars;
  Frame *parent = nullptr;
};

class Renderer {
public:
  explicit Renderer(Frame &root) : root(root) {}

  void body(const Body &nodes, Frame &f, std::string &out) {
    for (const NodeP &n : nodes) {
      node(*n, f, out);
      if (flow != Flow::Normal)
        return;
    }
  }

private:
  enum class Flow { Normal, Break, Continue };
  Flow flow = Flow::Normal;
  Frame &root;
  int depth = 0;
  int64_t iterations = 0;

  [[noreturn]] void fail(int line, const std::string &message) {
    throw RenderError{line, message};
  }

  Value *lookup(Frame &f, const std::string &name) {
    for (Frame *p = &f; p; p = p->parent)
      if (auto it = p->vars.find(name); it != p->vars.end())
        return &it->second;
    return nullptr;
  }

  void emit(std::string &out, const std::string &s, int line) {
    out += s;
    if (out.size() > kMaxOutput)
      fail(line, "the rendered prompt is larger than " +
                     std::to_string(kMaxOutput >> 20) + " MiB");
  }

  void node(const Node &n, Frame &f, std::string &out) {
    switch (n.k) {
    case Node::K::Text:
      emit(out, n.text, n.line);
      return;
    case Node::K::Output:
      emit(out, str(eval(*n.expr, f)), n.line);
      return;
    case Node::K::If:
      for (const auto &[cond, b] : n.branches)
        if (!cond || truthy(eval(*cond, f))) {
          body(b, f, out);
          return;
        }
      return;
    case Node::K::For:
      loop(n, f, out);
      return;
    case Node::K::Set:
      f.vars[n.text] = eval(*n.expr, f);
      return;
    case Node::K::SetAttr: {
      Value *ns = lookup(f, n.text);
      if (!ns || ns->t != Value::T::Namespace)
        fail(n.line, "cannot assign attribute '" + n.attr + "' of '" + n.text +
                         "': not a namespace");
      Value v = eval(*n.expr, f);
      for (auto &[k, e] : *ns->dict)
        if (k == n.attr) {
          e = v;
          return;
        }
      ns->dict->emplace_back(n.attr, v);
      return;
    }
    case Node::K::Macro: {
      Value m = Value::make(Value::T::Macro);
      m.macro = &n;
      f.vars[n.text] = m;
      return;
    }
    case Node::K::Break:
      flow = Flow::Break;
      return;
    case Node::K::Continue:
      flow = Flow::Continue;
      return;
    }
  }

  List items(const Value &v, int line) {
    switch (v.t) {
    case Value::T::Undefined:
      return {};
    case Value::T::List:
      return *v.list;
    case Value::T::Dict: {
      List keys;
      for (auto &[k, e] : *v.dict)
        keys.push_back(Value::string(k));
      return keys;
    }
    case Value::T::String: {
      List chars;
      for (std::string &cp : codePoints(v.s))
        chars.push_back(Value::string(cp));
      return chars;
    }
    default:
      fail(line, "'" + typeOf(v) + "' object is not iterable");
    }
  }

  void loop(const Node &n, Frame &f, std::string &out) {
    List all = items(eval(*n.expr, f), n.line);
    Frame inner{{}, &f};
    List kept;
    for (Value &v : all) {
      if (n.filter) {
        bind(n, inner, v);
        if (!truthy(eval(*n.filter, inner)))
          continue;
      }
      kept.push_back(v);
    }
    const int64_t length = static_cast<int64_t>(kept.size());
    for (int64_t k = 0; k < length; ++k) {
      if (++iterations > kMaxIterations)
        fail(n.line, "the template loops more than " +
                         std::to_string(kMaxIterations) + " times");
      Frame scope{{}, &f};
      bind(n, scope, kept[k]);
      scope.vars["loop"] = Value::newDict(
          {{"index", Value::integer(k + 1)},
           {"index0", Value::integer(k)},
           {"revindex", Value::integer(length - k)},
           {"revindex0", Value::integer(length - k - 1)},
           {"first", Value::boolean(k == 0)},
           {"last", Value::boolean(k == length - 1)},
           {"length", Value::integer(length)},
           {"previtem", k > 0 ? kept[k - 1] : Value::undefined("previtem")},
           {"nextitem",
            k + 1 < length ? kept[k + 1] : Value::undefined("nextitem")}});
      body(n.body, scope, out);
      if (flow == Flow::Break) {
        flow = Flow::Normal;
        break;
      }
      flow = Flow::Normal;
    }
    if (length == 0 && !n.elseBody.empty()) {
      Frame scope{{}, &f};
      body(n.elseBody, scope, out);
    }
  }

  void bind(const Node &n, Frame &scope, const Value &v) {
    if (n.targets.size() == 1) {
      scope.vars[n.targets[0]] = v;
      return;
    }
    List parts = v.t == Value::T::List ? *v.list : List{};
    if (parts.size() != n.targets.size())
      fail(n.line, "cannot unpack " + typeOf(v) + " into " +
                       std::to_string(n.targets.size()) + " names");
    for (size_t k = 0; k < parts.size(); ++k)
      scope.vars[n.targets[k]] = parts[k];
  }

  Value eval(const Expr &e, Frame &f) {
    switch (e.k) {
    case Expr::K::Literal:
      return fromJson(e.value);
    case Expr::K::Name: {
      if (Value *v = lookup(f, e.name))
        return *v;
      return Value::undefined(e.name);
    }
    case Expr::K::List: {
      List l;
      for (const ExprP &a : e.args)
        l.push_back(eval(*a, f));
      return Value::newList(std::move(l));
    }
    case Expr::K::Dict: {
      Dict d;
      for (const auto &[k, a] : e.kwargs)
        d.emplace_back(k, eval(*a, f));
      return Value::newDict(std::move(d));
    }
    case Expr::K::Attr:
      return member(eval(*e.args[0], f), Value::string(e.name), true, e.line);
    case Expr::K::Item:
      return member(eval(*e.args[0], f), eval(*e.args[1], f), false, e.line);
    case Expr::K::Slice:
      return slice(e, f);
    case Expr::K::Call:
      return call(e, f);
    case Expr::K::Filter:
      return filter(e, f);
    case Expr::K::Test: {
      bool r = test(e, f);
      return Value::boolean(e.negated ? !r : r);
    }
    case Expr::K::Not:
      return Value::boolean(!truthy(eval(*e.args[0], f)));
    case Expr::K::Neg: {
      Value v = eval(*e.args[0], f);
      if (v.t == Value::T::Int)
        return Value::integer(-v.i);
      if (v.isNumber())
        return Value::real(-v.number());
      fail(e.line, "bad operand type for unary -: '" + typeOf(v) + "'");
    }
    case Expr::K::And: {
      Value a = eval(*e.args[0], f);
      return truthy(a) ? eval(*e.args[1], f) : a;
    }
    case Expr::K::Or: {
      Value a = eval(*e.args[0], f);
      return truthy(a) ? a : eval(*e.args[1], f);
    }
    case Expr::K::Cond:
      if (truthy(eval(*e.args[1], f)))
        return eval(*e.args[0], f);
      return e.args.size() > 2 ? eval(*e.args[2], f) : Value::undefined("else");
    case Expr::K::Binary:
      return binary(e, eval(*e.args[0], f), eval(*e.args[1], f));
    }
    return Value();
  }

  [[noreturn]] void undefinedError(const Value &v, int line) {
    fail(line, "'" + v.s + "' is undefined");
  }

  Value member(const Value &obj, const Value &key, bool attr, int line) {
    if (obj.t == Value::T::Undefined)
      undefinedError(obj, line);
    auto method = [&]() -> std::optional<Value> {
      if (key.t != Value::T::String)
        return std::nullopt;
      return boundMethod(obj, key.s, line);
    };
    if (attr)
      if (auto m = method())
        return *m;
    if ((obj.t == Value::T::Dict || obj.t == Value::T::Namespace) &&
        key.t == Value::T::String) {
      if (const Value *v = obj.find(key.s))
        return *v;
    } else if ((obj.t == Value::T::List || obj.t == Value::T::String) &&
               (key.t == Value::T::Int || key.t == Value::T::Bool)) {
      std::vector<std::string> cps;
      if (obj.t == Value::T::String)
        cps = codePoints(obj.s);
      int64_t size = obj.t == Value::T::List ? int64_t(obj.list->size())
                                             : int64_t(cps.size());
      int64_t k = key.t == Value::T::Int ? key.i : key.b;
      if (k < 0)
        k += size;
      if (k >= 0 && k < size)
        return obj.t == Value::T::List ? (*obj.list)[k] : Value::string(cps[k]);
    }
    if (!attr)
      if (auto m = method())
        return *m;
    return Value::undefined(str(key));
  }

  std::optional<Value> boundMethod(const Value &obj, const std::string &name,
                                   int line) {
    using Args = std::vector<Value>;
    using Kwargs = std::vector<std::pair<std::string, Value>>;
    auto argCount = [this, line, name](Args &a, Kwargs &kw, size_t lo,
                                       size_t hi) {
      if (!kw.empty())
        fail(line, name + "() takes no keyword arguments here");
      if (a.size() < lo || a.size() > hi)
        fail(line, name + "() takes " + std::to_string(lo) +
                       (hi > lo ? " to " + std::to_string(hi) : "") +
                       " arguments, got " + std::to_string(a.size()));
    };
    auto stringArg = [this, line, name](const Value &v) {
      if (v.t != Value::T::String)
        fail(line, name + "() expects a string, got " + typeOf(v));
      return v.s;
    };
    Value m = Value::make(Value::T::Function);
    if (obj.t == Value::T::Dict) {
      if (name == "get") {
        m.fn = [=](Args &a, Kwargs &kw) {
          argCount(a, kw, 1, 2);
          if (a[0].t == Value::T::String)
            if (const Value *v = obj.find(a[0].s))
              return *v;
          return a.size() > 1 ? a[1] : Value::none();
        };
      } else if (name == "items" || name == "keys" || name == "values") {
        m.fn = [=](Args &a, Kwargs &kw) {
          argCount(a, kw, 0, 0);
          List l;
          for (auto &[k, v] : *obj.dict)
            l.push_back(name == "items"  ? Value::newList({Value::string(k), v})
                        : name == "keys" ? Value::string(k)
                                         : v);
          return Value::newList(std::move(l));
        };
      } else {
        return std::nullopt;
      }
      return m;
    }
    if (obj.t != Value::T::String)
      return std::nullopt;
    const std::string s = obj.s;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      m.fn = [=](Args &a, Kwargs &kw) {
        argCount(a, kw, 0, 1);
        std::string chars;
        bool given = !a.empty() && a[0].t != Value::T::None;
        if (given)
          chars = stringArg(a[0]);
        return Value::string(strip(s, name != "rstrip", name != "lstrip",
                                   given ? &chars : nullptr));
      };
    } else if (name == "split") {
      m.fn = [=](Args &a, Kwargs &kw) {
        argCount(a, kw, 0, 2);
        int64_t most = a.size() > 1 && a[1].t == Value::T::Int ? a[1].i : -1;
        List parts;
        if (a.empty() || a[0].t == Value::T::None) {
          std::string word;
          std::vector<std::string> cps = codePoints(s);
          size_t k = 0;
          while (k < cps.size()) {
            while (k < cps.size() && isPythonSpace(cps[k]))
              ++k;
            if (k == cps.size())
              break;
            if (most >= 0 && int64_t(parts.size()) == most) {
              std::string rest;
              for (; k < cps.size(); ++k)
                rest += cps[k];
              parts.push_back(Value::string(strip(rest, false, true)));
              break;
            }
            word.clear();
            while (k < cps.size() && !isPythonSpace(cps[k]))
              word += cps[k++];
            parts.push_back(Value::string(word));
          }
          return Value::newList(std::move(parts));
        }
        std::string sep = stringArg(a[0]);
        if (sep.empty())
          fail(line, "split(): empty separator");
        size_t start = 0, at;
        while ((most < 0 || int64_t(parts.size()) < most) &&
               (at = s.find(sep, start)) != std::string::npos) {
          parts.push_back(Value::string(s.substr(start, at - start)));
          start = at + sep.size();
        }
        parts.push_back(Value::string(s.substr(start)));
        return Value::newList(std::move(parts));
      };
    } else if (name == "startswith" || name == "endswith") {
      m.fn = [=](Args &a, Kwargs &kw) {
        argCount(a, kw, 1, 1);
        std::string x = stringArg(a[0]);
        bool r = x.size() <= s.size() &&
                 (name == "startswith"
                      ? s.compare(0, x.size(), x) == 0
                      : s.compare(s.size() - x.size(), x.size(), x) == 0);
        return Value::boolean(r);
      };
    } else if (name == "upper" || name == "lower") {
      m.fn = [=](Args &a, Kwargs &kw) {
        argCount(a, kw, 0, 0);
        return Value::string(changeCase(s, name == "upper"));
      };
    } else if (name == "replace") {
      m.fn = [=](Args &a, Kwargs &kw) {
        argCount(a, kw, 2, 2);
        return Value::string(replaceAll(s, stringArg(a[0]), stringArg(a[1])));
      };
    } else {
      return std::nullopt;
    }
    return m;
  }

  static std::string changeCase(std::string s, bool upper) {
    // ASCII only: the template's names and types are ASCII.
    for (char &c : s)
      if (upper && c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 32);
      else if (!upper && c >= 'A' && c <= 'Z')
        c = static_cast<char>(c + 32);
    return s;
  }

  static std::string replaceAll(const std::string &s, const std::string &from,
                                const std::string &to) {
    if (from.empty())
      return s;
    std::string out;
    size_t start = 0, at;
    while ((at = s.find(from, start)) != std::string::npos) {
      out += s.substr(start, at - start) + to;
      start = at + from.size();
    }
    return out + s.substr(start);
  }

  Value slice(const Expr &e, Frame &f) {
    Value obj = eval(*e.args[0], f);
    if (obj.t == Value::T::Undefined)
      undefinedError(obj, e.line);
    std::vector<std::string> cps;
    if (obj.t == Value::T::String)
      cps = codePoints(obj.s);
    else if (obj.t != Value::T::List)
      fail(e.line, "'" + typeOf(obj) + "' object cannot be sliced");
    int64_t size = obj.t == Value::T::List ? int64_t(obj.list->size())
                                           : int64_t(cps.size());
    auto part = [&](int k, std::optional<int64_t> &out) {
      out.reset();
      if (!e.args[k])
        return;
      Value v = eval(*e.args[k], f);
      if (v.t == Value::T::None)
        return;
      if (v.t != Value::T::Int)
        fail(e.line, "slice indices must be integers");
      out = v.i;
    };
    std::optional<int64_t> lo, hi, stepOpt;
    part(1, lo);
    part(2, hi);
    part(3, stepOpt);
    int64_t step = stepOpt.value_or(1);
    if (step == 0)
      fail(e.line, "slice step cannot be zero");
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v)
        return dflt;
      int64_t x = *v < 0 ? *v + size : *v;
      if (step > 0)
        return std::clamp<int64_t>(x, 0, size);
      return std::clamp<int64_t>(x, -1, size - 1);
    };
    int64_t b = clamp(lo, step > 0 ? 0 : size - 1);
    int64_t en = clamp(hi, step > 0 ? size : -1);
    List l;
    std::string s;
    for (int64_t k = b; step > 0 ? k < en : k > en; k += step) {
      if (obj.t == Value::T::List)
        l.push_back((*obj.list)[k]);
      else
        s += cps[k];
    }
    return obj.t == Value::T::List ? Value::newList(std::move(l))
                                   : Value::string(s);
  }

  Value call(const Expr &e, Frame &f) {
    const Expr &callee = *e.args[0];
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k)
      args.push_back(eval(*e.args[k], f));
    std::vector<std::pair<std::string, Value>> kwargs;
    for (const auto &[k, a] : e.kwargs)
      kwargs.emplace_back(k, eval(*a, f));
    if (callee.k == Expr::K::Name && !lookup(f, callee.name))
      return global(callee.name, args, kwargs, e.line);
    Value fn = eval(callee, f);
    if (fn.t == Value::T::Function)
      return fn.fn(args, kwargs);
    if (fn.t == Value::T::Macro)
      return callMacro(*fn.macro, args, kwargs, e.line);
    if (fn.t == Value::T::Undefined)
      undefinedError(fn, e.line);
    fail(e.line, "'" + typeOf(fn) + "' object is not callable");
  }

  Value global(const std::string &name, std::vector<Value> &args,
               std::vector<std::pair<std::string, Value>> &kwargs, int line) {
    if (name == "raise_exception") {
      fail(line,
           args.empty() ? std::string("raise_exception()") : str(args[0]));
    }
    if (name == "namespace") {
      Dict d;
      for (Value &a : args) {
        if (a.t != Value::T::Dict)
          fail(line, "namespace() takes keyword arguments or a dict");
        d.insert(d.end(), a.dict->begin(), a.dict->end());
      }
      for (auto &[k, v] : kwargs)
        d.emplace_back(k, v);
      return Value::newDict(std::move(d), Value::T::Namespace);
    }
    if (name == "range") {
      if (!kwargs.empty() || args.empty() || args.size() > 3)
        fail(line, "range() takes 1 to 3 integers");
      for (Value &a : args)
        if (a.t != Value::T::Int)
          fail(line, "range() takes integers, got " + typeOf(a));
      int64_t lo = args.size() > 1 ? args[0].i : 0;
      int64_t hi = args.size() > 1 ? args[1].i : args[0].i;
      int64_t step = args.size() > 2 ? args[2].i : 1;
      if (step == 0)
        fail(line, "range() step must not be zero");
      List l;
      for (int64_t k = lo; step > 0 ? k < hi : k > hi; k += step) {
        if (int64_t(l.size()) >= kMaxIterations)
          fail(line, "range() is too long");
        l.push_back(Value::integer(k));
      }
      return Value::newList(std::move(l));
    }
    fail(line, "'" + name + "' is undefined");
  }

  Value callMacro(const Node &m, std::vector<Value> &args,
                  std::vector<std::pair<std::string, Value>> &kwargs,
                  int line) {
    if (args.size() > m.targets.size())
      fail(line, "macro '" + m.text + "' takes at most " +
                     std::to_string(m.targets.size()) + " arguments");
    if (++depth > kMaxDepth)
      fail(line, "macros nest deeper than " + std::to_string(kMaxDepth));
    Frame scope{{}, &root};
    for (size_t k = 0; k < args.size(); ++k)
      scope.vars[m.targets[k]] = args[k];
    for (auto &[key, v] : kwargs) {
      auto at = std::find(m.targets.begin(), m.targets.end(), key);
      if (at == m.targets.end())
        fail(line, "macro '" + m.text + "' has no parameter '" + key + "'");
      scope.vars[key] = v;
    }
    for (size_t k = 0; k < m.targets.size(); ++k)
      if (!scope.vars.count(m.targets[k]))
        scope.vars[m.targets[k]] = m.defaults[k]
                                       ? eval(*m.defaults[k], scope)
                                       : Value::undefined(m.targets[k]);
    std::string out;
    Flow outer = flow;
    flow = Flow::Normal;
    body(m.body, scope, out);
    flow = outer;
    --depth;
    return Value::string(out);
  }

  Value binary(const Expr &e, const Value &a, const Value &b) {
    const std::string &op = e.name;
    if (op == "==")
      return Value::boolean(equal(a, b));
    if (op == "!=")
      return Value::boolean(!equal(a, b));
    if (op == "~")
      return Value::string(str(a) + str(b));
    if (op == "in") {
      if (b.t == Value::T::String && a.t == Value::T::String)
        return Value::boolean(b.s.find(a.s) != std::string::npos);
      if (b.t == Value::T::List)
        return Value::boolean(
            std::any_of(b.list->begin(), b.list->end(),
                        [&](const Value &x) { return equal(a, x); }));
      if (b.t == Value::T::Dict || b.t == Value::T::Namespace)
        return Value::boolean(a.t == Value::T::String && b.find(a.s));
      if (b.t == Value::T::Undefined)
        undefinedError(b, e.line);
      fail(e.line,
           "'in' needs a string, list or dict on the right, got " + typeOf(b));
    }
    if (a.t == Value::T::Undefined)
      undefinedError(a, e.line);
    if (b.t == Value::T::Undefined)
      undefinedError(b, e.line);
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      int c;
      if (a.isNumber() && b.isNumber())
        c = a.number() < b.number() ? -1 : a.number() > b.number();
      else if (a.t == Value::T::String && b.t == Value::T::String)
        c = a.s.compare(b.s) < 0 ? -1 : a.s.compare(b.s) > 0;
      else
        fail(e.line, "'" + op + "' not supported between '" + typeOf(a) +
                         "' and '" + typeOf(b) + "'");
      return Value::boolean(op == "<"    ? c < 0
                            : op == ">"  ? c > 0
                            : op == "<=" ? c <= 0
                                         : c >= 0);
    }
    if (op == "+") {
      if (a.t == Value::T::String && b.t == Value::T::String)
        return Value::string(a.s + b.s);
      if (a.t == Value::T::List && b.t == Value::T::List) {
        List l = *a.list;
        l.insert(l.end(), b.list->begin(), b.list->end());
        return Value::newList(std::move(l));
      }
    }
    if (!a.isNumber() || !b.isNumber())
      fail(e.line, "unsupported operand types for " + op + ": '" + typeOf(a) +
                       "' and '" + typeOf(b) + "'");
    bool ints = a.t != Value::T::Float && b.t != Value::T::Float;
    int64_t x = a.t == Value::T::Int ? a.i : a.b,
            y = b.t == Value::T::Int ? b.i : b.b;
    if (op == "/" || op == "//" || op == "%")
      if (b.number() == 0)
        fail(e.line, "division by zero");
    if (op == "+")
      return ints ? Value::integer(x + y)
                  : Value::real(a.number() + b.number());
    if (op == "-")
      return ints ? Value::integer(x - y)
                  : Value::real(a.number() - b.number());
    if (op == "*")
      return ints ? Value::integer(x * y)
                  : Value::real(a.number() * b.number());
    if (op == "/")
      return Value::real(a.number() / b.number());
    if (op == "//") {
      if (ints)
        return Value::integer(x / y - ((x % y != 0) && ((x < 0) != (y < 0))));
      return Value::real(std::floor(a.number() / b.number()));
    }
    if (op == "%") {
      if (ints) {
        int64_t r = x % y;
        return Value::integer(r != 0 && ((r < 0) != (y < 0)) ? r + y : r);
      }
      double r = std::fmod(a.number(), b.number());
      return Value::real(
          r != 0 && ((r < 0) != (b.number() < 0)) ? r + b.number() : r);
    }
    if (op == "**")
      return ints && y >= 0 ? Value::integer(int64_t(std::pow(x, y)))
                            : Value::real(std::pow(a.number(), b.number()));
    fail(e.line, "unsupported operator '" + op + "'");
  }

  bool test(const Expr &e, Frame &f) {
    Value v = eval(*e.args[0], f);
    const std::string &t = e.name;
    auto arg = [&](size_t k) {
      if (e.args.size() <= k)
        fail(e.line, "test '" + t + "' needs an argument");
      return eval(*e.args[k], f);
    };
    if (t == "defined")
      return v.t != Value::T::Undefined;
    if (t == "undefined")
      return v.t == Value::T::Undefined;
    if (t == "none")
      return v.t == Value::T::None;
    if (t == "string")
      return v.t == Value::T::String;
    if (t == "mapping")
      return v.t == Value::T::Dict;
    if (t == "sequence")
      return v.t == Value::T::List || v.t == Value::T::String ||
             v.t == Value::T::Dict;
    if (t == "iterable")
      return v.t == Value::T::List || v.t == Value::T::String ||
             v.t == Value::T::Dict || v.t == Value::T::Undefined;
    if (t == "boolean")
      return v.t == Value::T::Bool;
    if (t == "number")
      return v.isNumber();
    if (t == "integer")
      return v.t == Value::T::Int;
    if (t == "float")
      return v.t == Value::T::Float;
    if (t == "true")
      return v.t == Value::T::Bool && v.b;
    if (t == "false")
      return v.t == Value::T::Bool && !v.b;
    if (t == "callable")
      return v.t == Value::T::Macro || v.t == Value::T::Function;
    if (t == "odd" || t == "even" || t == "divisibleby") {
      if (v.t != Value::T::Int)
        fail(e.line, "test '" + t + "' needs an integer, got " + typeOf(v));
      if (t == "divisibleby") {
        Value d = arg(1);
        if (d.t != Value::T::Int || d.i == 0)
          fail(e.line, "divisibleby needs a non-zero integer");
        return v.i % d.i == 0;
      }
      return (v.i % 2 != 0) == (t == "odd");
    }
    if (t == "eq" || t == "equalto")
      return equal(v, arg(1));
    if (t == "ne")
      return !equal(v, arg(1));
    if (t == "in")
      return truthy(binary(e, v, arg(1)));
    if (t == "lower" || t == "upper")
      return v.t == Value::T::String && v.s == changeCase(v.s, t == "upper");
    fail(e.line, "unsupported test '" + t + "'");
  }

  Value applyFilter(const std::string &name, const Value &v,
                    std::vector<Value> &args,
                    std::vector<std::pair<std::string, Value>> &kwargs,
                    int line, Frame &f);

  Value filter(const Expr &e, Frame &f) {
    Value v = eval(*e.args[0], f);
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k)
      args.push_back(eval(*e.args[k], f));
    std::vector<std::pair<std::string, Value>> kwargs;
    for (const auto &[k, a] : e.kwargs)
      kwargs.emplace_back(k, eval(*a, f));
    return applyFilter(e.name, v, args, kwargs, e.line, f);
  }
};

Value Renderer::applyFilter(const std::string &name, const Value &v,
                            std::vector<Value> &args,
                            std::vector<std::pair<std::string, Value>> &kwargs,
                            int line, Frame &f) {
  auto kw = [&](const char *key, size_t position) -> std::optional<Value> {
    for (auto &[k, a] : kwargs)
      if (k == key)
        return a;
    if (position < args.size())
      return args[position];
    return std::nullopt;
  };
  auto needString = [&]() {
    if (v.t == Value::T::Undefined)
      return std::string();
    if (v.t != Value::T::String)
      return str(v);
    return v.s;
  };
  if (name == "default" || name == "d") {
    Value dflt = kw("default_value", 0).value_or(Value::string(""));
    bool boolean = truthy(kw("boolean", 1).value_or(Value::boolean(false)));
    if (v.t == Value::T::Undefined || (boolean && !truthy(v)))
      return dflt;
    return v;
  }
  if (v.t == Value::T::Undefined && name != "string" && name != "list" &&
      name != "trim" && name != "upper" && name != "lower")
    undefinedError(v, line);
  if (name == "trim")
    return Value::string(strip(needString(), true, true));
  if (name == "upper" || name == "lower")
    return Value::string(changeCase(needString(), name == "upper"));
  if (name == "capitalize" || name == "title") {
    std::string s = changeCase(needString(), false);
    bool start = true;
    for (char &c : s) {
      if (start && c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 32);
      start = name == "title" ? !std::isalnum(static_cast<unsigned char>(c))
                              : false;
    }
    return Value::string(s);
  }
  if (name == "string" || name == "safe" || name == "escape" || name == "e")
    return Value::string(str(v));
  if (name == "length" || name == "count") {
    if (v.t == Value::T::String)
      return Value::integer(int64_t(codePoints(v.s).size()));
    if (v.t == Value::T::List)
      return Value::integer(int64_t(v.list->size()));
    if (v.t == Value::T::Dict)
      return Value::integer(int64_t(v.dict->size()));
    fail(line, "object of type '" + typeOf(v) + "' has no len()");
  }
  if (name == "list" || name == "reverse" || name == "unique" ||
      name == "sort") {
    List l = items(v, line);
    if (name == "reverse" && v.t == Value::T::String) {
      std::string s;
      for (auto it = l.rbegin(); it != l.rend(); ++it)
        s += it->s;
      return Value::string(s);
    }
    if (name == "reverse")
      std::reverse(l.begin(), l.end());
    if (name == "unique") {
      List u;
      for (Value &x : l)
        if (std::none_of(u.begin(), u.end(),
                         [&](const Value &y) { return equal(x, y); }))
          u.push_back(x);
      l = u;
    }
    if (name == "sort") {
      for (Value &x : l)
        if (x.t != Value::T::String && !x.isNumber())
          fail(line, "sort: only strings and numbers");
      std::stable_sort(l.begin(), l.end(), [](const Value &a, const Value &b) {
        if (a.isNumber() && b.isNumber())
          return a.number() < b.number();
        return changeCase(a.s, false) < changeCase(b.s, false);
      });
    }
    return Value::newList(std::move(l));
  }
  if (name == "items" || name == "dictsort") {
    if (v.t != Value::T::Dict)
      fail(line, name + ": expected a dict, got " + typeOf(v));
    Dict d = *v.dict;
    if (name == "dictsort") {
      bool caseSensitive =
          truthy(kw("case_sensitive", 0).value_or(Value::boolean(false)));
      std::string by = str(kw("by", 1).value_or(Value::string("key")));
      if (by != "key")
        fail(line, "dictsort: only by='key' is supported");
      std::stable_sort(d.begin(), d.end(), [&](const auto &a, const auto &b) {
        return caseSensitive
                   ? a.first < b.first
                   : changeCase(a.first, false) < changeCase(b.first, false);
      });
    }
    List l;
    for (auto &[k, e] : d)
      l.push_back(Value::newList({Value::string(k), e}));
    return Value::newList(std::move(l));
  }
  if (name == "first" || name == "last") {
    List l = items(v, line);
    if (l.empty())
      return Value::undefined(name);
    return name == "first" ? l.front() : l.back();
  }
  if (name == "join") {
    std::string sep = str(kw("d", 0).value_or(Value::string("")));
    std::string out;
    List l = items(v, line);
    for (size_t k = 0; k < l.size(); ++k)
      out += (k ? sep : "") + str(l[k]);
    return Value::string(out);
  }
  if (name == "map") {
    List l = items(v, line), out;
    std::optional<Value> attribute = kw("attribute", 99);
    for (Value &x : l) {
      if (attribute) {
        out.push_back(member(x, *attribute, false, line));
        continue;
      }
      if (args.empty() || args[0].t != Value::T::String)
        fail(line, "map: expected a filter name or attribute=");
      std::vector<Value> rest(args.begin() + 1, args.end());
      std::vector<std::pair<std::string, Value>> none;
      out.push_back(applyFilter(args[0].s, x, rest, none, line, f));
    }
    return Value::newList(std::move(out));
  }
  if (name == "tojson") {
    if (kw("indent", 0) && kw("indent", 0)->t != Value::T::None)
      fail(line, "tojson: indent is not supported");
    return Value::string(toJson(v, line));
  }
  if (name == "int") {
    if (v.isNumber())
      return Value::integer(int64_t(v.number()));
    if (v.t == Value::T::String) {
      char *end = nullptr;
      long long x = std::strtoll(v.s.c_str(), &end, 10);
      return Value::integer(*end || v.s.empty() ? 0 : x);
    }
    return Value::integer(0);
  }
  if (name == "float") {
    if (v.isNumber())
      return Value::real(v.number());
    return Value::real(0);
  }
  if (name == "abs") {
    if (v.t == Value::T::Int)
      return Value::integer(v.i < 0 ? -v.i : v.i);
    if (v.isNumber())
      return Value::real(std::fabs(v.number()));
    fail(line, "abs: expected a number");
  }
  if (name == "replace") {
    if (args.size() < 2)
      fail(line, "replace: expected two strings");
    return Value::string(replaceAll(needString(), str(args[0]), str(args[1])));
  }
  fail(line, "unsupported filter '" + name + "'");
}

} // namespace
} // namespace jinja

runtime::Result<ChatTemplate> ChatTemplate::parse(std::string_view text,
                                                  const std::string &name) {
  ChatTemplate t;
  t.name = name;
  try {
    t.impl = jinja::parseTemplate(text);
  } catch (const jinja::ParseError &e) {
    return runtime::Error{name + ":" + std::to_string(e.line) + ": " +
                          e.message};
  }
  return t;
}

runtime::Result<std::string>
ChatTemplate::render(const nlohmann::ordered_json &context) const {
  jinja::Frame root;
  if (context.is_object())
    for (auto &[k, v] : context.items())
      root.vars[k] = jinja::fromJson(v);
  std::string out;
  try {
    jinja::Renderer(root).body(impl->body, root, out);
  } catch (const jinja::RenderError &e) {
    return runtime::Error{name + ":" + std::to_string(e.line) + ": " +
                          e.message};
  }
  return out;
}

} // namespace dgc::serve
