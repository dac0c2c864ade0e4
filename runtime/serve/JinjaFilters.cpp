//===- JinjaFilters.cpp - Chat templates: methods, filters ----------------===//

#include "JinjaRenderer.h"

#include <algorithm>
#include <cmath>

namespace dgc::serve::jinja {

std::optional<Value> Renderer::boundMethod(const Value &obj,
                                           const std::string &name, int line) {
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

Value Renderer::filter(const Expr &e, Frame &f) {
  Value v = eval(*e.args[0], f);
  std::vector<Value> args;
  for (size_t k = 1; k < e.args.size(); ++k)
    args.push_back(eval(*e.args[k], f));
  std::vector<std::pair<std::string, Value>> kwargs;
  for (const auto &[k, a] : e.kwargs)
    kwargs.emplace_back(k, eval(*a, f));
  return applyFilter(e.name, v, args, kwargs, e.line, f);
}

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

} // namespace dgc::serve::jinja
