//===- Files.cpp - Reading the files a user names -------------------------===//

#include "dgc/runtime/Files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

bool fileExists(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

} // namespace dgc::runtime
