//===- Ptxas.cpp - Registers per kernel, from ptxas -----------------------===//
//
// PTX does not say how many registers a kernel needs; ptxas does. With
// DGC_STANDIN_PTXAS naming it, each module the stand-in loads is assembled
// as the driver's JIT would, and launches are checked against the registers
// of a block. Its errors fail the load as the JIT's would.
//
//===----------------------------------------------------------------------===//

#include "StandIn.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace dgc::standin {
namespace {

std::string quoted(const std::string &word) {
  std::string out = "'";
  for (char c : word)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

} // namespace

bool registersByPtxas(const std::string &ptxas, const std::string &arch,
                      const std::string &ptx,
                      std::map<std::string, unsigned> &registers,
                      std::string &log) {
  const char *tmp = std::getenv("TMPDIR");
  std::string path =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/dgc-standin-XXXXXX.ptx";
  int fd = mkstemps(path.data(), 4);
  if (fd < 0) {
    log = "cannot write a temporary file for ptxas";
    return false;
  }
  close(fd);
  std::ofstream(path) << ptx;
  std::string command = quoted(ptxas) + " -arch=" + arch + " -v -o /dev/null " +
                        quoted(path) + " 2>&1";
  std::string output;
  int status = -1;
  if (FILE *pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe))
      output.append(buffer, n);
    status = pclose(pipe);
  }
  unlink(path.c_str());
  if (status != 0) {
    log = output.empty() ? "cannot run " + ptxas : output;
    return false;
  }
  // "Compiling entry function 'NAME'" ... "Used N registers".
  std::istringstream lines(output);
  std::string line, entry;
  while (std::getline(lines, line)) {
    size_t at = line.find("Compiling entry function '");
    if (at != std::string::npos) {
      size_t begin = at + 26;
      entry = line.substr(begin, line.find('\'', begin) - begin);
      continue;
    }
    at = line.find("Used ");
    if (at != std::string::npos && !entry.empty())
      registers[entry] =
          static_cast<unsigned>(std::atoi(line.c_str() + at + 5));
  }
  return true;
}

} // namespace dgc::standin
