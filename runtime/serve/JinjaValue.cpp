//===- JinjaValue.cpp - Chat templates: Python's values -------------------===//

#include "JinjaValue.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace dgc::serve::jinja {

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

std::string strip(const std::string &s, bool left, bool right,
                  const std::string *chars) {
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

namespace {
std::string jsonString(const std::string &s) {
  return nlohmann::json(s).dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace);
}
} // namespace

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

std::string changeCase(std::string s, bool upper) {
  // ASCII only: the template's names and types are ASCII.
  for (char &c : s)
    if (upper && c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 32);
    else if (!upper && c >= 'A' && c <= 'Z')
      c = static_cast<char>(c + 32);
  return s;
}

std::string replaceAll(const std::string &s, const std::string &from,
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

} // namespace dgc::serve::jinja
