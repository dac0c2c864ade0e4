//===- JinjaEval.cpp - Chat templates: expressions ------------------------===//

#include "JinjaRenderer.h"

#include <algorithm>
#include <cmath>

namespace dgc::serve::jinja {

Value Renderer::eval(const Expr &e, Frame &f) {
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

Value Renderer::member(const Value &obj, const Value &key, bool attr,
                       int line) {
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

Value Renderer::slice(const Expr &e, Frame &f) {
  Value obj = eval(*e.args[0], f);
  if (obj.t == Value::T::Undefined)
    undefinedError(obj, e.line);
  std::vector<std::string> cps;
  if (obj.t == Value::T::String)
    cps = codePoints(obj.s);
  else if (obj.t != Value::T::List)
    fail(e.line, "'" + typeOf(obj) + "' object cannot be sliced");
  int64_t size =
      obj.t == Value::T::List ? int64_t(obj.list->size()) : int64_t(cps.size());
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

Value Renderer::call(const Expr &e, Frame &f) {
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

Value Renderer::global(const std::string &name, std::vector<Value> &args,
                       std::vector<std::pair<std::string, Value>> &kwargs,
                       int line) {
  if (name == "raise_exception") {
    fail(line, args.empty() ? std::string("raise_exception()") : str(args[0]));
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

Value Renderer::binary(const Expr &e, const Value &a, const Value &b) {
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
    return ints ? Value::integer(x + y) : Value::real(a.number() + b.number());
  if (op == "-")
    return ints ? Value::integer(x - y) : Value::real(a.number() - b.number());
  if (op == "*")
    return ints ? Value::integer(x * y) : Value::real(a.number() * b.number());
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
    return Value::real(r != 0 && ((r < 0) != (b.number() < 0)) ? r + b.number()
                                                               : r);
  }
  if (op == "**")
    return ints && y >= 0 ? Value::integer(int64_t(std::pow(x, y)))
                          : Value::real(std::pow(a.number(), b.number()));
  fail(e.line, "unsupported operator '" + op + "'");
}

bool Renderer::test(const Expr &e, Frame &f) {
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

} // namespace dgc::serve::jinja
