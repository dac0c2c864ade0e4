//===- Jinja.h - The chat template's syntax tree and values -----*- C++ -*-===//
//
// Internal to ChatTemplate: JinjaParse.cpp builds the tree, the Renderer of
// JinjaRenderer.h walks it.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_JINJA_H
#define DGC_SERVE_JINJA_H

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dgc::serve::jinja {

struct Expr;
using ExprP = std::unique_ptr<Expr>;

struct Expr {
  enum class K {
    Literal, // value
    Name,    // name
    List,    // args
    Dict,    // kwargs (keys as strings)
    Attr,    // args[0].name
    Item,    // args[0][args[1]]
    Slice,   // args[0][args[1]:args[2]:args[3]], null parts absent
    Call,    // args[0](args[1..], kwargs)
    Filter,  // args[0] | name(args[1..], kwargs)
    Test,    // args[0] is [not] name(args[1..])
    Not,
    Neg,
    Binary, // args[0] name args[1]: + - * / // % ** ~ == != < > <= >= in
    And,
    Or,
    Cond, // args[0] if args[1] else args[2] (absent: undefined)
  };
  K k;
  int line = 0;
  nlohmann::json value;
  std::string name;
  std::vector<ExprP> args;
  std::vector<std::pair<std::string, ExprP>> kwargs;
  bool negated = false;
};

struct Node;
using NodeP = std::unique_ptr<Node>;
using Body = std::vector<NodeP>;

struct Node {
  enum class K { Text, Output, If, For, Set, SetAttr, Macro, Break, Continue };
  K k;
  int line = 0;
  std::string text; // Text; Set / SetAttr / Macro: the name
  std::string attr; // SetAttr
  ExprP expr;       // Output, Set, SetAttr: the value; For: the iterable
  ExprP filter;     // For: `if` condition
  std::vector<std::pair<ExprP, Body>> branches; // If (null: else)
  std::vector<std::string> targets;             // For; Macro: parameters
  std::vector<ExprP> defaults;                  // Macro: per parameter
  Body body, elseBody;
};

struct Template {
  Body body;
};

/// A template's syntax error (JinjaParse.cpp throws it; ChatTemplate::parse
/// catches it).
struct ParseError {
  int line;
  std::string message;
};

std::shared_ptr<Template> parseTemplate(std::string_view text);

} // namespace dgc::serve::jinja

#endif // DGC_SERVE_JINJA_H
