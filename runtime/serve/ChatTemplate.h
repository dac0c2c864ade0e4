//===- ChatTemplate.h - A checkpoint's Jinja chat template -------*- C++
//-*-===//
//
// Renders a Hugging Face chat template (chat_template.jinja) for a list of
// messages, as transformers' apply_chat_template does: Jinja with
// trim_blocks and lstrip_blocks, undefined values that print as nothing, and
// the globals raise_exception, namespace and range.
//
// No C++ Jinja engine is packaged where dgc is built, so this is the subset
// the Gemma family's templates use: text, {{ }}, {% if / elif / else %},
// {% for %} (with loop.*, unpacking, an else branch, break and continue),
// {% set %} (names and namespace attributes), {% macro %} with defaults and
// keyword arguments, comments and whitespace control; expressions with
// literals, lists and dicts, attribute, item and slice access, calls,
// filters, tests, `in`, arithmetic, comparison, `~`, and `x if c else y`.
// Anything else is refused when the template is loaded, by name and line;
// test/serve/chat_template_check.py compares renders with Python's jinja2.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_CHATTEMPLATE_H
#define DGC_SERVE_CHATTEMPLATE_H

#include "dgc/runtime/Result.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace dgc::serve {

namespace jinja {
struct Template;
}

class ChatTemplate {
public:
  /// Parses `text`; errors start with `name` and give the line.
  static runtime::Result<ChatTemplate> parse(std::string_view text,
                                             const std::string &name);
  /// Renders with `context`'s keys as variables (messages, bos_token,
  /// add_generation_prompt, ...). Fails on what Jinja would raise for.
  /// Ordered: a template that prints a dict shows its keys as given.
  runtime::Result<std::string>
  render(const nlohmann::ordered_json &context) const;

private:
  std::shared_ptr<const jinja::Template> impl;
  std::string name;
};

} // namespace dgc::serve

#endif // DGC_SERVE_CHATTEMPLATE_H
