#pragma once

// LIBSVM / SVMlight text format: one example per line,
//   <label> <index>:<value> <index>:<value> ...   # optional comment
// with 1-based feature indices in strictly ascending order. Parsed in one pass straight into
// CSR arrays.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/io.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace laconic::data {

struct LibsvmOptions {
  // The number of features; 0 infers it from the largest index in the file. When given, an
  // index beyond it is an error (and a test file that never uses the last features still
  // gets the training file's width).
  Index num_features = 0;
  // Binary: at most two distinct labels, smaller -> -1 and larger -> +1 (so ±1, 0/1 and 1/2
  // all work). Multiclass: sorted distinct labels -> 0..C-1. Regression: labels as written.
  Task task = Task::binary;
};

// Parses LIBSVM text; `name` stands for the file in error messages. Throws ParseError
// ("name:line:column: expected ...") for malformed input. Explicit zero values are dropped.
inline Dataset parse_libsvm(std::string_view text, const std::string& name,
                            LibsvmOptions options = {}) {
  constexpr Index max_index = std::numeric_limits<std::int32_t>::max();
  require_param(options.num_features >= 0 && options.num_features <= max_index, "num_features",
                options.num_features, "in [0, 2^31 - 1] (0 = infer)");
  const Index declared = options.num_features;

  // The CSR arrays are written in place, sized for one row per line and one non-zero per ':'.
  std::size_t max_rows = 1, max_nnz = 0;
  for (const char c : text) {
    max_rows += c == '\n';
    max_nnz += c == ':';
  }
  if (max_rows > static_cast<std::size_t>(max_index)) {
    throw std::runtime_error(
        fmt::format("{}: more than 2^31 - 2 lines, too many for one dataset", name));
  }
  SparseMatrix features(static_cast<Index>(max_rows), declared);
  features.resizeNonZeros(static_cast<Index>(max_nnz));
  std::int32_t* const outer = features.outerIndexPtr();
  std::int32_t* const inner = features.innerIndexPtr();
  Scalar* const values = features.valuePtr();
  std::int32_t rows = 0, nnz = 0;
  outer[0] = 0;
  detail::LabelMap labels(options.task, name);
  labels.reserve(max_rows);
  Index width = 0;

  const char* p = text.data();
  const char* const end = p + text.size();
  if (text.starts_with("\xEF\xBB\xBF")) p += 3;  // a UTF-8 byte order mark
  std::int64_t line = 0;
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  const auto skip_line = [&] {
    const void* newline = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    p = newline != nullptr ? static_cast<const char*>(newline) + 1 : end;
  };

  while (p != end) {
    ++line;
    const char* const line_start = p;
    const auto column = [line_start](const char* q) { return std::int64_t{q - line_start} + 1; };
    const auto fail = [&](const char* q, std::string expected) -> ParseError {
      return ParseError(name, line, column(q), "expected " + std::move(expected));
    };
    while (p != end && blank(*p)) ++p;
    if (p == end) break;
    if (*p == '\n' || *p == '#') {  // blank line or comment
      skip_line();
      continue;
    }

    // The label.
    double label = 0;
    const char* stop = p;
    const auto status = detail::parse_number(p, end, label, stop);
    if (status == detail::NumberStatus::not_a_number ||
        (stop != end && !blank(*stop) && *stop != '\n' && *stop != '#')) {
      throw fail(p, fmt::format("a label (a number) at the start of the line, found '{}'",
                                detail::token_at(p, end)));
    }
    if (status == detail::NumberStatus::not_finite) {
      throw fail(p, fmt::format("a finite label, found '{}'", detail::token_at(p, end)));
    }
    labels.add(label, line, column(p));
    p = stop;

    // The features.
    std::int64_t previous = 0;
    for (;;) {
      while (p != end && blank(*p)) ++p;
      if (p == end) break;
      if (*p == '\n') {
        ++p;
        break;
      }
      if (*p == '#') {
        skip_line();
        break;
      }
      const char* const token = p;
      std::int64_t index = 0;
      const auto [index_end, error] = std::from_chars(p, end, index);
      if (error == std::errc::invalid_argument) {
        if (std::string_view(p, static_cast<std::size_t>(end - p)).starts_with("qid:")) {
          throw fail(p, "index:value pairs; 'qid:' (ranking data) is not supported");
        }
        throw fail(p, fmt::format("a feature index (an integer) followed by ':', found '{}'",
                                  detail::token_at(p, end)));
      }
      if (error == std::errc::result_out_of_range || index > max_index) {
        throw fail(token, fmt::format("a feature index below 2^31, found '{}'",
                                      detail::token_at(token, index_end)));
      }
      if (index_end == end || *index_end != ':') {
        throw fail(index_end, fmt::format("':' after feature index {}", index));
      }
      if (index <= 0) throw fail(token, fmt::format("a feature index >= 1, found {}", index));
      if (declared > 0 && index > declared) {
        throw fail(token,
                   fmt::format("a feature index <= {} (the declared number of features), found {}",
                               declared, index));
      }
      if (index <= previous) {
        throw fail(token,
                   fmt::format("feature indices in strictly ascending order, found {} after {}",
                               index, previous));
      }
      p = index_end + 1;
      double value = 0;
      const auto value_status = detail::parse_number(p, end, value, stop);
      if (value_status == detail::NumberStatus::not_a_number ||
          (stop != end && !blank(*stop) && *stop != '\n' && *stop != '#')) {
        throw fail(p, fmt::format("a number as the value of feature {}, found '{}'", index,
                                  detail::token_at(p, end)));
      }
      if (value_status == detail::NumberStatus::not_finite) {
        throw fail(p, fmt::format("a finite value for feature {}, found '{}'", index,
                                  detail::token_at(p, end)));
      }
      p = stop;
      previous = index;
      if (value != 0) {
        if (nnz == max_index) {
          throw std::runtime_error(fmt::format(
              "{}: more than 2^31 - 1 non-zero values, too many for one dataset", name));
        }
        inner[nnz] = static_cast<std::int32_t>(index - 1);
        values[nnz++] = value;
      }
    }
    width = std::max<Index>(width, previous);
    outer[++rows] = nnz;
  }
  if (labels.size() == 0) {
    throw ParseError(name, std::max<std::int64_t>(line, 1), 1,
                     "expected at least one example (a label and its features)");
  }

  // Trim to the rows and non-zeros found; every index is below the final width, so the
  // matrix stays compressed. Memory is given back only when much was set aside in vain
  // (comments with ':' or explicit zeros).
  features.resizeNonZeros(nnz);
  features.conservativeResize(rows, declared > 0 ? declared : width);
  if (static_cast<std::size_t>(nnz) < max_nnz - max_nnz / 8) features.data().squeeze();
  auto [mapped, num_classes] = labels.finish();
  return Dataset::compact(std::move(features), std::move(mapped), options.task, num_classes);
}

// Reads a LIBSVM file (gzip allowed, see read_file).
inline Dataset read_libsvm(const std::filesystem::path& path, LibsvmOptions options = {}) {
  return parse_libsvm(read_file(path), path.string(), options);
}

}  // namespace laconic::data
