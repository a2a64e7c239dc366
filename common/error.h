// gradpool::Error is the one exception type for bad input and failed operations.
//
// Every message says *where*: the file (and line, byte offset or JSON path) or the job-spec field,
// then what was wrong and what was expected, so that a user can fix the input without reading code.
// Throwing code never leaves partial output behind (writers go through a temp file + rename).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace gradpool {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error with a fmt-formatted message: fail("{}: field 'r' must be > 0", path).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace gradpool
