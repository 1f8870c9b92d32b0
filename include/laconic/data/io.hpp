#pragma once

// Reading data files: whole files into memory (gunzipped when they start with the gzip
// magic), plus the pieces every reader shares: label maps and the CSR-or-dense rule.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
#include <zlib.h>
#endif

namespace laconic::data {

// True when laconic was compiled with zlib and read_file() can decompress gzip files.
inline constexpr bool has_gzip_support =
#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
    true;
#else
    false;
#endif

// True when `bytes` begins with the gzip magic number 0x1f 0x8b.
inline bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Decompresses a whole gzip file (one or more concatenated members). `file` names it in
// errors: corrupt or truncated data throws ParseError with the byte offset of the input.
inline std::string gunzip(std::string_view bytes, const std::string& file) {
#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {  // 15-bit window, gzip wrapper only
    throw std::runtime_error(fmt::format("{}: cannot initialise zlib", file));
  }
  struct End {
    z_stream* stream;
    ~End() { inflateEnd(stream); }
  } end{&stream};

  // The last four bytes hold the size of the last member modulo 2^32: a good first guess,
  // believed only up to deflate's largest possible ratio (about 1032:1).
  std::size_t guess = 0;
  if (bytes.size() >= 18) {
    const auto* tail = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4);
    guess = std::size_t{tail[0]} | std::size_t{tail[1]} << 8 | std::size_t{tail[2]} << 16 |
            std::size_t{tail[3]} << 24;
  }
  guess = std::min(guess, 1032 * bytes.size());
  std::string out(std::max({guess + 1, 2 * bytes.size(), std::size_t{4096}}), '\0');
  std::size_t consumed = 0, produced = 0;
  constexpr std::size_t chunk = std::size_t{1} << 30;  // zlib counts in 32-bit integers
  for (;;) {
    if (produced == out.size()) out.resize(2 * out.size());
    const std::size_t in_now = std::min(bytes.size() - consumed, chunk);
    const std::size_t out_now = std::min(out.size() - produced, chunk);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + consumed));
    stream.avail_in = static_cast<uInt>(in_now);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(out_now);
    const int rc = inflate(&stream, Z_NO_FLUSH);
    consumed += in_now - stream.avail_in;
    produced += out_now - stream.avail_out;
    if (rc == Z_STREAM_END) {
      if (consumed == bytes.size()) break;
      if (!is_gzip(bytes.substr(consumed))) {
        throw ParseError::at_byte(
            file, static_cast<std::int64_t>(consumed),
            fmt::format("expected the end of the file after the gzip stream, found {} more bytes",
                        bytes.size() - consumed));
      }
      inflateReset(&stream);  // another gzip member follows
    } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
      if (stream.avail_out != 0 && consumed == bytes.size()) {
        throw ParseError::at_byte(file, static_cast<std::int64_t>(consumed),
                                  "expected more gzip data: the compressed stream is truncated");
      }
    } else {
      throw ParseError::at_byte(file, static_cast<std::int64_t>(consumed),
                                fmt::format("expected valid gzip data ({})",
                                            stream.msg != nullptr ? stream.msg : "zlib error"));
    }
  }
  out.resize(produced);
  return out;
#else
  (void)bytes;
  throw std::runtime_error(fmt::format(
      "{} is gzip-compressed, but laconic was built without zlib support: install zlib "
      "(Debian: zlib1g-dev) and configure with -DLACONIC_WITH_ZLIB=ON, or gunzip the file",
      file));
#endif
}

// The whole content of a file, as bytes. A file beginning with the gzip magic number is
// decompressed (this needs zlib; without it, such files throw std::runtime_error). A missing
// or unreadable file throws std::runtime_error naming the path.
inline std::string read_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw std::runtime_error(fmt::format("cannot read {}: it is a directory", name));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr) {
    const int code = errno;
    throw std::runtime_error(
        fmt::format("cannot open {}: {}", name, std::generic_category().message(code)));
  }
  // One more byte than the file's size, so that a single short read finds the end.
  const auto size = std::filesystem::file_size(path, error);
  std::string bytes(error ? std::size_t{1} << 16 : static_cast<std::size_t>(size) + 1, '\0');
  std::size_t used = 0;
  for (;;) {
    used += std::fread(bytes.data() + used, 1, bytes.size() - used, file.get());
    if (used < bytes.size()) break;
    bytes.resize(2 * bytes.size());
  }
  if (std::ferror(file.get()) != 0) {
    const int code = errno;
    throw std::runtime_error(
        fmt::format("cannot read {}: {}", name, std::generic_category().message(code)));
  }
  bytes.resize(used);
  if (is_gzip(bytes)) return gunzip(bytes, name);
  return bytes;
}

namespace detail {

// Maps the labels of a text file as its Task asks, remembering where each came from so that
// errors can point at a line. Binary: at most two distinct values, the smaller one -> -1 and
// the larger -> +1 (a single value maps by name: 1, 2 -> +1 and -1, 0 -> -1). Multiclass: the
// sorted distinct values -> 0..C-1. Regression: unchanged.
class LabelMap {
 public:
  LabelMap(Task task, std::string file) : task_(task), file_(std::move(file)) {
    require_task(task);
  }

  void add(double label, std::int64_t line, std::int64_t column) {
    if (raw_.empty()) first_line_ = line, first_column_ = column;
    if (task_ == Task::binary && (distinct_ == 0 || label != seen_[0]) &&
        (distinct_ < 2 || label != seen_[1])) {
      if (distinct_ == 2) {
        throw ParseError(
            file_, line, column,
            fmt::format("expected at most 2 distinct labels for a binary task, found {} "
                        "after {} and {} (read it as Task::multiclass?)",
                        label, seen_[0], seen_[1]));
      }
      seen_[distinct_++] = label;
    }
    raw_.push_back(label);
  }

  void reserve(std::size_t rows) { raw_.reserve(rows); }
  Index size() const { return static_cast<Index>(raw_.size()); }

  // The mapped labels and the number of classes (2 binary, C multiclass, 0 regression).
  std::pair<Vector, int> finish() const {
    const auto n = static_cast<Index>(raw_.size());
    Vector labels(n);
    switch (task_) {
      case Task::binary: {
        double negative = std::min(seen_[0], seen_[1]);
        if (distinct_ == 1) {
          const double only = seen_[0];
          if (only != 1 && only != 2 && only != -1 && only != 0) {
            throw ParseError(
                file_, first_line_, first_column_,
                fmt::format("expected a binary label (-1, 0, 1 or 2) when all labels are "
                            "equal, found {} on every line",
                            only));
          }
          negative = only <= 0 ? only : -std::numeric_limits<double>::infinity();
        }
        for (Index i = 0; i < n; ++i)
          labels[i] = raw_[static_cast<std::size_t>(i)] == negative ? -1.0 : 1.0;
        return {std::move(labels), 2};
      }
      case Task::multiclass: {
        std::vector<double> classes(raw_);
        std::sort(classes.begin(), classes.end());
        classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
        if (classes.size() < 2) {
          throw ParseError(
              file_, first_line_, first_column_,
              fmt::format("expected at least 2 distinct labels for a multiclass task, found "
                          "only {}",
                          classes.empty() ? 0.0 : classes[0]));
        }
        if (classes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
          throw std::runtime_error(fmt::format("{}: too many distinct labels", file_));
        }
        for (Index i = 0; i < n; ++i) {
          const auto it =
              std::lower_bound(classes.begin(), classes.end(), raw_[static_cast<std::size_t>(i)]);
          labels[i] = static_cast<double>(it - classes.begin());
        }
        return {std::move(labels), static_cast<int>(classes.size())};
      }
      case Task::regression:
        for (Index i = 0; i < n; ++i) labels[i] = raw_[static_cast<std::size_t>(i)];
        return {std::move(labels), 0};
    }
    return {std::move(labels), 0};
  }

 private:
  Task task_;
  std::string file_;
  std::vector<double> raw_;
  double seen_[2] = {0, 0};
  int distinct_ = 0;
  std::int64_t first_line_ = 1, first_column_ = 1;
};

enum class NumberStatus { ok, not_a_number, not_finite };

// Parses a decimal floating-point number at [p, end) with std::from_chars, also allowing a
// leading '+'; on success `stop` points past it. Out-of-range magnitudes count as infinite
// (overflow) or as their rounded value (underflow).
inline NumberStatus parse_number(const char* p, const char* end, double& value, const char*& stop) {
  const char* start = p;
  if (p != end && *p == '+') {
    ++p;
    if (p != end && (*p == '-' || *p == '+')) return NumberStatus::not_a_number;
  }
  const auto [ptr, ec] = std::from_chars(p, end, value);
  if (ec == std::errc::invalid_argument) return NumberStatus::not_a_number;
  stop = ptr;
  if (ec == std::errc::result_out_of_range) {
    value = std::strtod(std::string(start, ptr).c_str(), nullptr);
  }
  return std::isfinite(value) ? NumberStatus::ok : NumberStatus::not_finite;
}

// The text of a token starting at `p`, up to white space, a delimiter or the end of the line,
// shortened for messages.
inline std::string_view token_at(const char* p, const char* end, char delimiter = ' ') {
  const char* q = p;
  while (q != end && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n' && *q != delimiter &&
         q - p < 40) {
    ++q;
  }
  return {p, static_cast<std::size_t>(q - p)};
}

}  // namespace detail

}  // namespace laconic::data
