//===- RenderChat.cpp - Chat templates rendered for the jinja2 check ------===//
//
// dgc-render-chat TEMPLATE CASES.json: renders TEMPLATE with each context of
// the JSON array CASES and prints a JSON array of {"text": ...} or
// {"error": ...}, for chat_template_check.py to compare with jinja2.
//
//===----------------------------------------------------------------------===//

#include "runtime/serve/ChatTemplate.h"

#include "dgc/runtime/Files.h"

#include <iostream>

int main(int argc, char **argv) {
  using nlohmann::json;
  if (argc != 3) {
    std::cerr << "usage: dgc-render-chat TEMPLATE CASES.json\n";
    return 2;
  }
  auto text = dgc::runtime::readRegularFile(argv[1]);
  auto cases = dgc::runtime::readRegularFile(argv[2]);
  if (!text || !cases) {
    std::cerr << "dgc-render-chat: " << (text ? cases.error() : text.error())
              << "\n";
    return 1;
  }
  auto t = dgc::serve::ChatTemplate::parse(*text, "template");
  if (!t) {
    std::cerr << "dgc-render-chat: " << t.error() << "\n";
    return 1;
  }
  json out = json::array();
  for (const auto &context : nlohmann::ordered_json::parse(*cases)) {
    auto r = t->render(context);
    out.push_back(r ? json{{"text", *r}} : json{{"error", r.error()}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}
