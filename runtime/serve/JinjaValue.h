//===- JinjaValue.h - Chat templates: Python's values -----------*- C++ -*-===//
//
// Internal to ChatTemplate: what a template's expressions evaluate to, and
// the Python behaviour of those values (str, repr, truth, equality,
// json.dumps) that jinja2 gives them.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_JINJAVALUE_H
#define DGC_SERVE_JINJAVALUE_H

#include "Jinja.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dgc::serve::jinja {

/// A template's error at run time (the renderer throws it; ChatTemplate::render
/// catches it).
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
std::vector<std::string> codePoints(const std::string &s);
/// Python's repr() of a float.
std::string floatRepr(double v);
/// Python's str() and repr().
std::string str(const Value &v);
std::string repr(const Value &v);
bool truthy(const Value &v);
bool equal(const Value &a, const Value &b);
/// Whether `cp` is whitespace to Python's str.split() and str.strip().
bool isPythonSpace(const std::string &cp);
/// Python's str.strip / lstrip / rstrip, of whitespace or of `chars`.
std::string strip(const std::string &s, bool left, bool right,
                  const std::string *chars = nullptr);
/// transformers' tojson: json.dumps(ensure_ascii=False), Python's separators.
std::string toJson(const Value &v, int line);
/// The type's name in messages.
std::string typeOf(const Value &v);
/// ASCII upper or lower case.
std::string changeCase(std::string s, bool upper);
/// Python's str.replace.
std::string replaceAll(const std::string &s, const std::string &from,
                       const std::string &to);

} // namespace dgc::serve::jinja

#endif // DGC_SERVE_JINJAVALUE_H
