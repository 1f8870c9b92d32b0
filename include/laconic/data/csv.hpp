#pragma once

// Delimited text of numbers, one example per line: the features and, in one column, the
// label. No quoting; blank lines are skipped; fields may be padded with spaces or tabs.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/io.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace laconic::data {

struct CsvOptions {
  Index skip_lines = 0;      // lines to skip before the data, e.g. 1 for a header
  Task task = Task::binary;  // labels mapped as for LIBSVM (see LibsvmOptions::task)
  Index label_column = -1;   // 0-based column of the label; -1 = the last column
  char delimiter = ',';
};

// Parses delimited text; `name` stands for the file in error messages. Every data line must
// have the same number of fields, each a finite number; otherwise ParseError points at the
// line and column. Features are stored densely, or as CSR when that is smaller.
inline Dataset parse_csv(std::string_view text, const std::string& name, CsvOptions options = {}) {
  require_param(options.skip_lines >= 0, "skip_lines", options.skip_lines, ">= 0");
  require_param(options.label_column >= -1, "label_column", options.label_column,
                ">= 0, or -1 for the last column");
  const char d = options.delimiter;
  const bool alphanumeric =
      (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z');
  require_param(
      !alphanumeric && d != '.' && d != '+' && d != '-' && d != '\n' && d != '\r' && d != '\0',
      "delimiter", d, "a character that cannot be part of a number or end a line");

  const char delimiter = options.delimiter;
  const auto padding = [delimiter](char c) {
    return c != delimiter && (c == ' ' || c == '\t' || c == '\r');
  };
  std::vector<Scalar> features;  // row-major, fields minus the label per line
  detail::LabelMap labels(options.task, name);
  Index fields = -1;  // per line, fixed by the first data line
  Index label_column = -1;
  std::int64_t first_data_line = 0;
  std::vector<Scalar> row;
  std::vector<const char*> starts;  // where each field of the line begins

  const char* p = text.data();
  const char* const end = p + text.size();
  if (text.starts_with("\xEF\xBB\xBF")) p += 3;  // a UTF-8 byte order mark
  std::int64_t line = 0;
  const auto next_line = [&] {
    const void* newline = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    p = newline != nullptr ? static_cast<const char*>(newline) + 1 : end;
  };
  for (; line < options.skip_lines && p != end; ++line) next_line();

  while (p != end) {
    ++line;
    const char* const line_start = p;
    const auto column = [line_start](const char* q) { return std::int64_t{q - line_start} + 1; };
    const char* q = p;
    while (q != end && padding(*q)) ++q;
    if (q == end || *q == '\n') {  // blank line
      next_line();
      continue;
    }
    row.clear();
    starts.clear();
    for (;;) {
      while (p != end && padding(*p)) ++p;
      starts.push_back(p);
      double value = 0;
      const char* stop = p;
      const auto status = detail::parse_number(p, end, value, stop);
      if (status == detail::NumberStatus::ok || status == detail::NumberStatus::not_finite) {
        while (stop != end && padding(*stop)) ++stop;
      }
      if (status == detail::NumberStatus::not_a_number ||
          (stop != end && *stop != delimiter && *stop != '\n')) {
        std::string hint;
        if (fields < 0 && options.skip_lines == 0) {
          hint = " (if this is a header line, set CsvOptions::skip_lines)";
        }
        throw ParseError(name, line, column(p),
                         fmt::format("expected a number in field {}, found '{}'{}", row.size() + 1,
                                     detail::token_at(p, end, delimiter), hint));
      }
      if (status == detail::NumberStatus::not_finite) {
        throw ParseError(name, line, column(p),
                         fmt::format("expected a finite number in field {}, found '{}'",
                                     row.size() + 1, detail::token_at(p, end, delimiter)));
      }
      row.push_back(value);
      if (fields >= 0 && static_cast<Index>(row.size()) > fields) {
        throw ParseError(
            name, line, column(p),
            fmt::format("expected {} fields as on line {}, found more", fields, first_data_line));
      }
      p = stop;
      if (p == end || *p == '\n') break;
      ++p;  // the delimiter
    }
    if (p != end) ++p;  // the newline
    const auto count = static_cast<Index>(row.size());
    if (fields < 0) {
      fields = count;
      first_data_line = line;
      if (count < 2) {
        throw ParseError(name, line, column(starts[0]),
                         "expected at least 2 fields (features and a label), found 1");
      }
      require_param(options.label_column < count, "label_column", options.label_column,
                    fmt::format("below the number of fields ({})", count));
      label_column = options.label_column < 0 ? count - 1 : options.label_column;
    } else if (count != fields) {
      // Points just past the last field of the short line.
      const char* last = p;
      if (last != line_start && last[-1] == '\n') --last;
      if (last != line_start && last[-1] == '\r') --last;
      throw ParseError(name, line, column(last),
                       fmt::format("expected {} fields as on line {}, found {}", fields,
                                   first_data_line, count));
    }
    const auto label_index = static_cast<std::size_t>(label_column);
    labels.add(row[label_index], line, column(starts[label_index]));
    for (Index j = 0; j < count; ++j) {
      if (j != label_column) features.push_back(row[static_cast<std::size_t>(j)]);
    }
  }
  if (labels.size() == 0) {
    throw ParseError(name, std::max<std::int64_t>(line, 1), 1,
                     "expected at least one line of data");
  }

  auto [mapped, num_classes] = labels.finish();
  const Index rows = labels.size();
  DenseMatrix matrix(rows, fields - 1);
  std::copy(features.begin(), features.end(), matrix.data());
  return Dataset::compact(std::move(matrix), std::move(mapped), options.task, num_classes);
}

// Reads a delimited file (gzip allowed, see read_file).
inline Dataset read_csv(const std::filesystem::path& path, CsvOptions options = {}) {
  return parse_csv(read_file(path), path.string(), options);
}

}  // namespace laconic::data
