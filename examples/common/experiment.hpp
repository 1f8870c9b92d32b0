#pragma once

// Running a list of methods on one problem, printing a table as each finishes and writing
// one History CSV per method (tools/laconic-plot draws them: laconic-plot OUT_DIR).

#include <laconic/sim/history.hpp>
#include <laconic/sim/simulation.hpp>

#include <fmt/format.h>
#include <fmt/os.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace laconic::examples {

// What every method of an experiment runs on.
template <class Obj>
struct Problem {
  std::vector<Obj> workers{};
  // The budget is options.rounds *iterations*: a method taking H local steps per round runs
  // rounds / H rounds (see Entry).
  sim::Options options{};
  // When set, a run stops at the first recorded round that satisfies it (e.g. a target loss).
  std::function<bool(const sim::Record&)> stop{};
  // When positive, long runs show their round and loss on stderr every this many rounds.
  Index progress_every = 0;
  // The initial model; empty means zero.
  Vector theta0{};
  // The width of every float on every link, set on every method of the experiment
  // (Method::float_bits): 64, exact, the library's default, or 32, the papers' wire format.
  int float_bits = 64;
};

template <class Obj>
struct Entry {
  std::string id;    // names the CSV file
  std::string name;  // for people
  Index iterations_per_round = 1;
  std::function<sim::RunResult(const Problem<Obj>&)> run;
};

// A method of the experiment. `iterations_per_round` is the number of local SGD steps per
// round (local SGD's H): the method then runs budget / H rounds and records proportionally.
// Its links carry floats of the problem's float_bits.
template <class Obj, class M>
Entry<Obj> entry(std::string id, std::string name, M method, Index iterations_per_round = 1) {
  return {id, name, iterations_per_round,
          [name, method, iterations_per_round](const Problem<Obj>& problem) {
            sim::Options options = problem.options;
            options.label = name;
            options.rounds = (options.rounds + iterations_per_round - 1) / iterations_per_round;
            options.record_every = std::max<Index>(1, options.record_every / iterations_per_round);
            options.eval_every = std::max<Index>(1, options.eval_every / iterations_per_round);
            M configured = method;
            configured.float_bits = problem.float_bits;
            sim::Simulation simulation(configured, problem.workers,
                                       problem.theta0.size() > 0
                                           ? problem.theta0
                                           : Vector::Zero(problem.workers.front().dim()),
                                       options);
            const auto on_round = [&problem, &name](const sim::RoundView& view) {
              if (view.record == nullptr) return sim::Control::proceed;
              if (problem.progress_every > 0 && view.round % problem.progress_every == 0) {
                fmt::print(stderr, "\r  {}: round {}, loss {:.10g}   ", name, view.round,
                           view.record->loss);
              }
              return problem.stop && problem.stop(*view.record) ? sim::Control::stop
                                                                : sim::Control::proceed;
            };
            sim::RunResult result = simulation.run(on_round);
            if (problem.progress_every > 0) fmt::print(stderr, "\r{:80}\r", "");
            return result;
          }};
}

struct Outcome {
  std::string id;
  std::string name;
  Index iterations_per_round = 1;
  sim::RunResult result;

  const sim::Record& last() const { return result.history.rows.back(); }
  Index rounds() const { return last().round; }
  Index iterations() const { return rounds() * iterations_per_round; }
  const Traffic& traffic() const { return last().traffic; }
  double loss() const { return last().loss; }
  // The first recorded row satisfying `reached`, if any.
  template <class Predicate>
  const sim::Record* first(Predicate reached) const {
    for (const sim::Record& row : result.history.rows) {
      if (reached(row)) return &row;
    }
    return nullptr;
  }
};

// One column of a results table: its header, width, and the cell of a row, given the
// baseline (the first method) for ratios.
struct Column {
  std::string header;
  int width = 10;
  std::function<std::string(const Outcome& row, const Outcome& baseline)> cell;
};

inline constexpr int method_width = 24;

inline void print_header(const std::vector<Column>& columns) {
  std::string line = fmt::format("{:<{}}", "method", method_width);
  for (const Column& c : columns) line += fmt::format(" {:>{}}", c.header, c.width);
  fmt::print("{}\n", line);
}

inline void print_row(const std::vector<Column>& columns, const Outcome& row,
                      const Outcome& baseline) {
  std::string line = fmt::format("{:<{}}", row.name, method_width);
  for (const Column& c : columns) line += fmt::format(" {:>{}}", c.cell(row, baseline), c.width);
  fmt::print("{}\n", line);
  if (row.result.status == sim::Status::diverged) fmt::print("  {}\n", row.result.message);
  for (const std::string& warning : row.result.warnings) fmt::print("  warning: {}\n", warning);
  std::fflush(stdout);  // a row as soon as its method is done, also into a file
}

// A row for a method that is part of the paper's comparison but cannot run here.
inline void print_unavailable(std::string_view name, std::string_view why) {
  fmt::print("{:<{}} {}\n", name, method_width, why);
}

// "12.3x", or "-" when the ratio is undefined.
inline std::string times(double numerator, double denominator) {
  if (!(denominator > 0) || !std::isfinite(numerator / denominator)) return "-";
  return fmt::format("{:.1f}x", numerator / denominator);
}

inline std::string megabits(std::uint64_t bits) {
  return fmt::format("{:.3f}", static_cast<double>(bits) / 1e6);
}

// The columns of a fixed-budget comparison: what each method spent and where it ended, with
// its loss and uploads relative to the baseline's.
inline std::vector<Column> budget_columns() {
  return {
      {"iters", 6,
       [](const Outcome& o, const Outcome&) { return fmt::format("{}", o.iterations()); }},
      {"uploads", 8,
       [](const Outcome& o, const Outcome&) { return fmt::format("{}", o.traffic().uploads); }},
      {"Mbit up", 9,
       [](const Outcome& o, const Outcome&) { return megabits(o.traffic().up.total()); }},
      {"loss", 9, [](const Outcome& o, const Outcome&) { return fmt::format("{:.5f}", o.loss()); }},
      {"vs base", 8,
       [](const Outcome& o, const Outcome& base) {
         return fmt::format("{:+.2f}%", 100 * (o.loss() / base.loss() - 1));
       }},
      {"upload saving", 13,
       [](const Outcome& o, const Outcome& base) {
         return times(static_cast<double>(base.traffic().uploads),
                      static_cast<double>(o.traffic().uploads));
       }},
      {"bit saving", 10,
       [](const Outcome& o, const Outcome& base) {
         return times(static_cast<double>(base.traffic().up.total()),
                      static_cast<double>(o.traffic().up.total()));
       }},
  };
}

// Runs every entry on the problem in order (the first is the baseline of the ratios),
// printing its table row as it finishes and writing out_dir/<id>.csv.
template <class Obj>
std::vector<Outcome> run_all(const Problem<Obj>& problem, const std::vector<Entry<Obj>>& entries,
                             const std::vector<Column>& columns,
                             const std::filesystem::path& out_dir) {
  std::filesystem::create_directories(out_dir);
  print_header(columns);
  std::vector<Outcome> outcomes;
  outcomes.reserve(entries.size());
  for (const Entry<Obj>& e : entries) {
    outcomes.push_back({e.id, e.name, e.iterations_per_round, e.run(problem)});
    print_row(columns, outcomes.back(), outcomes.front());
    outcomes.back().result.history.write_csv(out_dir / (e.id + ".csv"));
  }
  return outcomes;
}

}  // namespace laconic::examples
