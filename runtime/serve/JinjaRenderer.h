//===- JinjaRenderer.h - Chat templates: the tree walker --------*- C++ -*-===//
//
// Internal to ChatTemplate. Renderer walks a parsed template: statements
// in JinjaRender.cpp, expressions in JinjaEval.cpp, string and dict
// methods and filters in JinjaFilters.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_JINJARENDERER_H
#define DGC_SERVE_JINJARENDERER_H

#include "JinjaValue.h"

#include <map>
#include <optional>

namespace dgc::serve::jinja {

// Bounds that keep any template from hanging or exhausting the server.
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

  /// Renders `nodes` in the scope `f` onto `out`.
  void body(const Body &nodes, Frame &f, std::string &out);

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

  [[noreturn]] void undefinedError(const Value &v, int line) {
    fail(line, "'" + v.s + "' is undefined");
  }

  // Statements (JinjaRender.cpp).
  void emit(std::string &out, const std::string &s, int line);
  void node(const Node &n, Frame &f, std::string &out);
  List items(const Value &v, int line);
  void loop(const Node &n, Frame &f, std::string &out);
  void bind(const Node &n, Frame &scope, const Value &v);
  Value callMacro(const Node &m, std::vector<Value> &args,
                  std::vector<std::pair<std::string, Value>> &kwargs, int line);

  // Expressions (JinjaEval.cpp).
  Value eval(const Expr &e, Frame &f);
  Value member(const Value &obj, const Value &key, bool attr, int line);
  Value slice(const Expr &e, Frame &f);
  Value call(const Expr &e, Frame &f);
  Value global(const std::string &name, std::vector<Value> &args,
               std::vector<std::pair<std::string, Value>> &kwargs, int line);
  Value binary(const Expr &e, const Value &a, const Value &b);
  bool test(const Expr &e, Frame &f);

  // Methods and filters (JinjaFilters.cpp).
  std::optional<Value> boundMethod(const Value &obj, const std::string &name,
                                   int line);
  Value filter(const Expr &e, Frame &f);
  Value applyFilter(const std::string &name, const Value &v,
                    std::vector<Value> &args,
                    std::vector<std::pair<std::string, Value>> &kwargs,
                    int line, Frame &f);
};

} // namespace dgc::serve::jinja

#endif // DGC_SERVE_JINJARENDERER_H
