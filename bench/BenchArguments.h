//===- BenchArguments.h - What the benchmarks' option loops share ---------===//

#ifndef DGC_BENCH_BENCHARGUMENTS_H
#define DGC_BENCH_BENCHARGUMENTS_H

#include <string>

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

} // namespace dgc::bench

#endif // DGC_BENCH_BENCHARGUMENTS_H
