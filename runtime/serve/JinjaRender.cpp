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
#include "JinjaRenderer.h"

#include <algorithm>

namespace dgc::serve::jinja {

void Renderer::body(const Body &nodes, Frame &f, std::string &out) {
  for (const NodeP &n : nodes) {
    node(*n, f, out);
    if (flow != Flow::Normal)
      return;
  }
}

void Renderer::emit(std::string &out, const std::string &s, int line) {
  out += s;
  if (out.size() > kMaxOutput)
    fail(line, "the rendered prompt is larger than " +
                   std::to_string(kMaxOutput >> 20) + " MiB");
}

void Renderer::node(const Node &n, Frame &f, std::string &out) {
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

List Renderer::items(const Value &v, int line) {
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

void Renderer::loop(const Node &n, Frame &f, std::string &out) {
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

void Renderer::bind(const Node &n, Frame &scope, const Value &v) {
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

Value Renderer::callMacro(const Node &m, std::vector<Value> &args,
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
      scope.vars[m.targets[k]] = m.defaults[k] ? eval(*m.defaults[k], scope)
                                               : Value::undefined(m.targets[k]);
  std::string out;
  Flow outer = flow;
  flow = Flow::Normal;
  body(m.body, scope, out);
  flow = outer;
  --depth;
  return Value::string(out);
}

} // namespace dgc::serve::jinja

namespace dgc::serve {

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
