//===- Result.h - Errors, results and statuses of the runtime ---*- C++ -*-===//
//
// Nothing in the runtime throws across its API: a failure comes back as an
// Error whose message is ready for the user (it names the file, tensor, field
// or request and the rule broken), inside a Result<T> or a Status.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_RESULT_H
#define DGC_RUNTIME_RESULT_H

#include <optional>
#include <string>
#include <utility>

namespace dgc::runtime {

/// An error message, ready for the user: `file: tensor 'name': problem`.
struct Error {
  std::string message;
};

/// A value or an Error.
template <typename T> class [[nodiscard]] Result {
public:
  // T&& (not T) lets `return local;` move in C++17 (CWG1579).
  Result(T &&value) : storage(std::move(value)) {}
  Result(const T &value) : storage(value) {}
  Result(Error error) : message(std::move(error.message)) {}

  explicit operator bool() const { return storage.has_value(); }
  T &operator*() { return *storage; }
  const T &operator*() const { return *storage; }
  T *operator->() { return &*storage; }
  const T *operator->() const { return &*storage; }
  /// Empty on success.
  const std::string &error() const { return message; }

private:
  std::optional<T> storage;
  std::string message;
};

/// Success, or an Error saying why not.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Error error) : failed(true), message(std::move(error.message)) {}

  explicit operator bool() const { return !failed; }
  /// Empty on success.
  const std::string &error() const { return message; }

private:
  bool failed = false;
  std::string message;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_RESULT_H
