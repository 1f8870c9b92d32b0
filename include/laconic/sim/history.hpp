#pragma once

// The per-round record of a run, written as CSV with a header comment that says what ran.

#include <laconic/core/errors.hpp>
#include <laconic/core/file.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/types.hpp>

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

namespace laconic::sim {

// Where a run's simulated time went (sim::CostModel), summed over its rounds: in each round the
// average counted participant's downlink, computation and uplink, and its wait for the round
// to end (for the slowest, or the deadline). The four sum to the time, up to rounding.
struct TimeParts {
  double down = 0;
  double compute = 0;
  double up = 0;
  double wait = 0;

  TimeParts& operator+=(const TimeParts& o) {
    down += o.down;
    compute += o.compute;
    up += o.up;
    wait += o.wait;
    return *this;
  }
  friend bool operator==(const TimeParts&, const TimeParts&) = default;
  template <class Io>
  void state(Io& io) {
    io(down);
    io(compute);
    io(up);
    io(wait);
  }
};

// The state after `round` rounds: the model θ^round and the counts accumulated so far.
struct Record {
  Index round = 0;
  double loss = std::numeric_limits<double>::quiet_NaN();           // (1/M) Σ f_m(θ)
  double grad_norm_sq = std::numeric_limits<double>::quiet_NaN();   // ‖(1/M) Σ ∇f_m(θ)‖²
  double test_accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN when not evaluated
  Traffic traffic;                                                  // totals over all workers
  double time = 0;  // simulated time so far (sim::CostModel)
  TimeParts time_parts;

  template <class Io>
  void state(Io& io) {
    io(round);
    io(loss);
    io(grad_norm_sq);
    io(test_accuracy);
    io(traffic);
    io(time);
    io(time_parts);
  }

  friend bool operator==(const Record& a, const Record& b) {
    auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
    return a.round == b.round && same(a.loss, b.loss) && same(a.grad_norm_sq, b.grad_norm_sq) &&
           same(a.test_accuracy, b.test_accuracy) && a.traffic == b.traffic && a.time == b.time &&
           a.time_parts == b.time_parts;
  }
};

class History {
 public:
  // One line naming the library version, the method, its parameters and the seed.
  std::string description;
  std::vector<Record> rows;

  static constexpr std::string_view csv_columns =
      "round,loss,grad_norm_sq,test_accuracy,uploads,downloads,bits_up,bits_down,"
      "bits_up_values,bits_up_indices,bits_up_metadata,bits_down_values,bits_down_indices,"
      "bits_down_metadata,gradient_samples,time,bits_up_paper,bits_down_paper,time_down,"
      "time_compute,time_up,time_wait,dropped_uploads,dropped_bits_up,dropped_samples";

  std::string to_csv() const {
    std::string out = header();
    for (const Record& r : rows) out += csv_row(r);
    return out;
  }
  // The CSV's first two lines: the description as a comment, and the columns.
  std::string header() const { return fmt::format("# {}\n{}\n", description, csv_columns); }
  static std::string csv_row(const Record& r) {
    const Traffic& t = r.traffic;
    return fmt::format(
        "{},{:.17g},{:.17g},{:.17g},{},{},{},{},{},{},{},{},{},{},{},{:.17g},{},{},{:.17g},{:.17g},"
        "{:.17g},{:.17g},{},{},{}\n",
        r.round, r.loss, r.grad_norm_sq, r.test_accuracy, t.uploads, t.downloads, t.up.total(),
        t.down.total(), t.up.values, t.up.indices, t.up.metadata, t.down.values, t.down.indices,
        t.down.metadata, t.gradient_samples, r.time, t.up.paper, t.down.paper, r.time_parts.down,
        r.time_parts.compute, r.time_parts.up, r.time_parts.wait, t.dropped_uploads,
        t.dropped_bits_up, t.dropped_samples);
  }

  // Writes the CSV next to `path` and renames it into place, so an existing file is never
  // left half-written.
  void write_csv(const std::filesystem::path& path) const {
    try {
      write_atomically(path, to_csv());
    } catch (const std::system_error& e) {
      throw std::runtime_error(fmt::format("{}: cannot write the history: {}",
                                           temporary_for(path).string(), reason_of(e)));
    }
  }

  friend bool operator==(const History&, const History&) = default;
};

// A History's CSV kept on disk while a run records it (Options::history_path): opening writes
// the rows so far (as write_csv), and each appended row is flushed at once, so that a run
// killed at any moment leaves every row it recorded.
class HistoryFile {
 public:
  HistoryFile() = default;  // none: append() does nothing
  HistoryFile(const History& history, std::filesystem::path path) : path_(std::move(path)) {
    history.write_csv(path_);
    errno = 0;
    out_.open(path_, std::ios::app);
    if (!out_) fail();
  }

  void append(const Record& row) {
    if (path_.empty()) return;
    errno = 0;
    out_ << History::csv_row(row);
    out_.flush();
    if (!out_) fail();
  }

 private:
  [[noreturn]] void fail() const {
    throw std::runtime_error(
        fmt::format("{}: cannot write the history: {}", path_.string(), os_reason()));
  }

  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace laconic::sim
