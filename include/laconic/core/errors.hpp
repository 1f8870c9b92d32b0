#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace laconic {

// A malformed input file: names the file, the 1-based line and column, and what was expected.
class ParseError : public std::runtime_error {
 public:
  ParseError(std::string file, std::int64_t line, std::int64_t column, std::string what_expected)
      : std::runtime_error(fmt::format("{}:{}:{}: {}", file, line, column, what_expected)),
        file_(std::move(file)),
        line_(line),
        column_(column) {}

  // For binary files, where a position is a byte offset rather than a line and column.
  static ParseError at_byte(std::string file, std::int64_t offset, std::string_view what_expected) {
    return ParseError(std::move(file), 0, offset, fmt::format("byte {}: {}", offset, what_expected),
                      binary_tag{});
  }

  const std::string& file() const { return file_; }
  std::int64_t line() const { return line_; }
  std::int64_t column() const { return column_; }

 private:
  struct binary_tag {};
  ParseError(std::string file, std::int64_t line, std::int64_t column, std::string_view what,
             binary_tag)
      : std::runtime_error(fmt::format("{}: {}", file, what)),
        file_(std::move(file)),
        line_(line),
        column_(column) {}

  std::string file_;
  std::int64_t line_;
  std::int64_t column_;
};

// A message whose bytes do not decode (truncated, corrupted, or of the wrong kind).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A checkpoint that cannot be used: unreadable, truncated, corrupted, of another format
// version, or written by a different method or parameters. The message says which.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The operating system's reason for the last failed file operation (errno), for people.
inline std::string os_reason() {
  const int code = errno;
  return code == 0 ? std::string("unknown reason") : std::generic_category().message(code);
}

// An invalid parameter: what() names it by its path ("top_k.k"; from a method, the whole path
// "uplink.top_k.k"), its value and the allowed range.
class ParamError : public std::invalid_argument {
 public:
  ParamError(std::string path, std::string value, std::string allowed)
      : std::invalid_argument(
            fmt::format("invalid parameter {} = {}: must be {}", path, value, allowed)),
        path_(std::move(path)),
        value_(std::move(value)),
        allowed_(std::move(allowed)) {}

  const std::string& path() const { return path_; }
  // The same error seen from the part that holds the parameter: "top_k.k" in "uplink".
  ParamError within(std::string_view owner) const {
    return {fmt::format("{}.{}", owner, path_), value_, allowed_};
  }

 private:
  std::string path_, value_, allowed_;
};

// Throws ParamError naming the parameter, its value and the allowed range unless `ok` holds.
template <class T>
void require_param(bool ok, std::string_view name, const T& value, std::string_view allowed) {
  if (!ok) throw ParamError(std::string(name), fmt::format("{}", value), std::string(allowed));
}

// What make() returns; a ParamError it throws names its parameter from `owner` on.
template <class F>
auto within(std::string_view owner, F&& make) -> decltype(make()) {
  try {
    return make();
  } catch (const ParamError& e) {
    throw e.within(owner);
  }
}

inline void require_positive_finite(std::string_view name, double value) {
  require_param(std::isfinite(value) && value > 0, name, value, "positive and finite");
}
inline void require_non_negative_finite(std::string_view name, double value) {
  require_param(std::isfinite(value) && value >= 0, name, value, ">= 0 and finite");
}

}  // namespace laconic
