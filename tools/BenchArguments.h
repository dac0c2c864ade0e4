//===- BenchArguments.h - What dgc-bench and dgc-kernel-check share ------===//

#ifndef DGC_TOOLS_BENCHARGUMENTS_H
#define DGC_TOOLS_BENCHARGUMENTS_H

#include <charconv>
#include <string>
#include <string_view>

namespace dgc::bench {

/// The last case of an option loop: `arg` is not a known option, so it is
/// an unknown one, the module (the first positional argument), or one
/// positional argument too many. Empty on success, otherwise the error.
inline std::string takeModuleArgument(const std::string &arg,
                                      std::string &module) {
  if (!arg.empty() && arg[0] == '-')
    return "unknown option " + arg;
  if (!module.empty())
    return "unexpected argument '" + arg + "'";
  module = arg;
  return "";
}

/// A decimal integer in [minimum, maximum], read as written: an optional '-'
/// and digits, without spaces, '+', 0x or leading zeros (which C reads as
/// octal). False for anything else, a value out of range included.
template <typename T>
bool parseDecimal(std::string_view text, T minimum, T maximum, T &out) {
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '-')
    digits.remove_prefix(1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0'))
    return false;
  T value;
  const char *end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value, 10);
  if (error != std::errc() || stop != end || value < minimum || value > maximum)
    return false;
  out = value;
  return true;
}

/// The error for a numeric flag: its name, its range, and what was given
/// (`text` is null when the flag ended the command line).
template <typename T>
std::string numberError(const std::string &flag, T minimum, T maximum,
                        const char *text) {
  std::string error = flag + " needs a number in [" + std::to_string(minimum) +
                      ", " + std::to_string(maximum) + "]";
  return text ? error + " (got '" + text + "')" : error;
}

} // namespace dgc::bench

#endif // DGC_TOOLS_BENCHARGUMENTS_H
