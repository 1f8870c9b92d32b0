#pragma once

// A trace file of the cost model (sim/cost_model.hpp): comma-separated numbers under a header
// line that names the columns, one row per line; blank lines and lines starting with '#' are
// skipped, and fields may be padded with spaces. Every mistake is a ParseError naming the file,
// the line and the column: an unknown or repeated column name, a missing required one, a row
// with another number of fields, or a field that is not a number its column allows.

#include <laconic/core/errors.hpp>
#include <laconic/data/io.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace laconic::sim {

struct Trace {
  struct Row {
    std::vector<double> values{};         // one per column
    std::int64_t line = 0;                // where it was written
    std::vector<std::int64_t> columns{};  // and where each value starts
  };
  std::string file;
  std::vector<std::string> columns;  // as the header names them
  std::vector<Row> rows;

  // The index of a column, or -1 if the file has none of that name.
  int column(std::string_view name) const {
    const auto it = std::find(columns.begin(), columns.end(), name);
    return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
  }
};

// A column a trace may have: its name, whether it must, and what its values must satisfy
// (`allowed` says it in words for the message).
struct TraceColumn {
  std::string_view name;
  bool required = false;
  std::function<bool(double)> valid;
  std::string_view allowed;
};

// Parses a trace's text; `name` stands for the file in messages.
inline Trace parse_trace(std::string_view text, const std::string& name,
                         std::initializer_list<TraceColumn> allowed) {
  Trace trace;
  trace.file = name;
  std::vector<const TraceColumn*> kinds;  // each column's description
  std::int64_t line = 0;
  const auto fail = [&](std::int64_t column, const std::string& what) {
    throw ParseError(name, line, column, what);
  };
  const auto trim = [](std::string_view& field, std::size_t& at) {
    while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) {
      field.remove_prefix(1);
      ++at;
    }
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t' || field.back() == '\r'))
      field.remove_suffix(1);
  };
  std::vector<std::string> names;
  for (const TraceColumn& c : allowed) names.emplace_back(c.name);
  while (!text.empty()) {
    ++line;
    const std::size_t newline = text.find('\n');
    std::string_view row = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    std::string_view content = row;
    std::size_t skipped = 0;
    trim(content, skipped);
    if (content.empty() || content.front() == '#') continue;
    const bool header = kinds.empty();
    Trace::Row parsed{.line = line};
    std::vector<double>& values = parsed.values;
    std::size_t start = 0;  // of the current field in `row`
    while (true) {
      const std::size_t comma = row.find(',', start);
      std::string_view field =
          row.substr(start, comma == std::string_view::npos ? comma : comma - start);
      std::size_t at = start;
      trim(field, at);
      const auto column = static_cast<std::int64_t>(at) + 1;
      const std::size_t index = header ? kinds.size() : values.size();
      if (header) {
        const auto it = std::find_if(allowed.begin(), allowed.end(),
                                     [&](const TraceColumn& c) { return c.name == field; });
        if (it == allowed.end()) {
          fail(column, fmt::format("unknown column '{}': a trace here has the columns {}", field,
                                   fmt::join(names, ", ")));
        }
        if (trace.column(field) >= 0) fail(column, fmt::format("column '{}' given twice", field));
        trace.columns.emplace_back(field);
        kinds.push_back(&*it);
      } else {
        if (index >= kinds.size()) {
          fail(column, fmt::format("more fields than the header's {} columns", kinds.size()));
        }
        double value = 0;
        const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
        const TraceColumn& kind = *kinds[index];
        if (field.empty() || ec != std::errc() || end != field.data() + field.size() ||
            std::isnan(value) || !kind.valid(value)) {
          fail(column, fmt::format("{} is '{}', allowed: {}", kind.name, field, kind.allowed));
        }
        values.push_back(value);
        parsed.columns.push_back(column);
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (header) {
      for (const TraceColumn& c : allowed) {
        if (c.required && trace.column(c.name) < 0)
          fail(1, fmt::format("the header has no column '{}'", c.name));
      }
    } else if (values.size() < kinds.size()) {
      fail(static_cast<std::int64_t>(row.size()) + 1,
           fmt::format("{} fields, the header has {} columns", values.size(), kinds.size()));
    } else {
      trace.rows.push_back(std::move(parsed));
    }
  }
  if (kinds.empty()) throw ParseError(name, std::max<std::int64_t>(line, 1), 1, "no header line");
  if (trace.rows.empty()) throw ParseError(name, line, 1, "a header but no rows");
  return trace;
}

// Reads a trace as the data readers read their files (a gzip-compressed one too).
inline Trace read_trace(const std::filesystem::path& path,
                        std::initializer_list<TraceColumn> allowed) {
  return parse_trace(data::read_file(path), path.string(), allowed);
}

}  // namespace laconic::sim
