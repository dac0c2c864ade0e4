//===- Files.cpp - Reading the files a user names -------------------------===//

#include "dgc/runtime/Files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace dgc::runtime {

Result<std::string> readRegularFile(const std::string &path, uint64_t limit) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return Error{path + ": cannot open: " + std::strerror(errno)};
  struct stat info;
  std::string problem;
  if (::fstat(fd, &info) != 0)
    problem = std::string("cannot stat: ") + std::strerror(errno);
  else if (S_ISDIR(info.st_mode))
    problem = "is a directory, not a file";
  else if (!S_ISREG(info.st_mode))
    problem = "not a regular file (a FIFO, socket or device is refused)";
  else if (static_cast<uint64_t>(info.st_size) > limit)
    problem = std::to_string(info.st_size) + " bytes, more than the limit of " +
              std::to_string(limit);
  std::string bytes;
  if (problem.empty()) {
    bytes.resize(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        problem = got < 0 ? std::string("cannot read: ") + std::strerror(errno)
                          : "shrank while being read";
        break;
      }
      done += static_cast<size_t>(got);
    }
  }
  ::close(fd);
  if (!problem.empty())
    return Error{path + ": " + problem};
  return bytes;
}

std::optional<std::string> readProcFile(const char *path) {
  // procfs reports a size of 0: read until the end instead.
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> missingCpuFlags(const std::vector<std::string> &flags) {
  std::optional<std::string> info = readProcFile("/proc/cpuinfo");
  if (!info || flags.empty())
    return {};
  // The first processor's "flags" line: the features Linux enabled.
  size_t at = info->find("\nflags");
  if (at == std::string::npos)
    return {};
  size_t colon = info->find(':', at), end = info->find('\n', at + 1);
  std::set<std::string> have;
  std::istringstream words(info->substr(colon + 1, end - colon - 1));
  for (std::string word; words >> word;)
    have.insert(word);
  std::vector<std::string> missing;
  for (const std::string &flag : flags)
    if (!have.count(flag))
      missing.push_back(flag);
  return missing;
}

namespace {
std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", double(bytes) / (1 << 30));
  return text;
}
} // namespace

Status checkHostMemory(uint64_t bytes, const std::string &what) {
  std::optional<std::string> info = readProcFile("/proc/meminfo");
  if (!info)
    return Status(); // not Linux: let the allocation speak
  uint64_t available = 0;
  bool known = false;
  for (const char *key : {"MemAvailable:", "SwapFree:"}) {
    size_t at = info->find(key);
    if (at == std::string::npos)
      continue;
    available +=
        std::strtoull(info->c_str() + at + std::strlen(key), nullptr, 10) *
        1024;
    known = true;
  }
  if (!known || bytes <= available)
    return Status();
  return Error{what + " needs " + gib(bytes) + " of host memory; " +
               gib(available) + " is available (MemAvailable plus free swap)"};
}

bool fileExists(const std::string &path) {
  // lstat: a symbolic link that loops or dangles is there, and reading it
  // says why it cannot be read, rather than passing for an absent file.
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0;
}

} // namespace dgc::runtime
