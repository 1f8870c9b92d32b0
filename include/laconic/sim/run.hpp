#pragma once

// What a run is asked to do and how it ends, the same for both transports (in process,
// sim/simulation.hpp, and over MPI, mpi/training.hpp): the options, the checks made when a
// run is set up, the loop of rounds with its History rows and stopping rules, and the verdict.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/types.hpp>
#include <laconic/server/server_update.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/skip/skip_rule.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace laconic::sim {

// The last round any run can reach: 2^40 ≈ 10^12 rounds, far beyond a real experiment, keeps
// round arithmetic (a local step's index k·τ + t, the time model) clear of overflow.
inline constexpr Index max_round = Index{1} << 40;

// How the global objective weighs the workers: f = Σ_m w_m f_m with w_m = 1/M (the plain
// mean, as LASG, EF21, FedPAQ and CD-Adam write it) or w_m = n_m/N (the mean over all samples,
// FedAvg's n_k/n; LAG's and LAQ's summed loss over shards of unequal sizes, up to the factor
// N). The server aggregates with the same weights, and the History measures that f.
enum class Weighting { workers, samples };

struct Options {
  std::uint64_t seed = 0;
  Index rounds = 100;
  int threads = 1;
  Index record_every = 1;  // a History row every this many rounds (and after the last)
  Index eval_every = 1;    // test accuracy on rows whose round is a multiple of this
  std::string label{};     // a name for the run, written into the CSV header
  // Optional held-out evaluation of the model, e.g. accuracy on a test set.
  std::function<double(const Vector&)> test_accuracy{};
  CostModel cost{};  // simulated time per round (the History's time column)
  Weighting weighting = Weighting::workers;
  // The run stops as diverged at the first History row whose loss exceeds its start f₀ (row
  // 0) by more than this many times |f₀|: a step size far too large, stopped with its history
  // kept. 0: never (nor when f₀ = 0). A non-finite loss always stops the run.
  double max_loss_growth = 100;
  // When > 0, the run stops as diverged once the loss has risen at this many History rows
  // in a row: a step size too large for the problem, caught before it overflows.
  Index stop_after_loss_rises = 0;
  // Targets, checked at each History row: the run stops as reached at the first row with
  // ‖∇f‖² < target_grad_norm_sq, or with f − optimal_loss < target_loss_gap (which needs
  // optimal_loss, f*). 0: no target. That row's traffic is the "uploads (bits) to reach ε".
  double target_grad_norm_sq = 0;
  double target_loss_gap = 0;
  double optimal_loss = std::numeric_limits<double>::quiet_NaN();
  // Checkpoints while running: after each round that is a multiple of checkpoint_every, and
  // when run() returns, the whole state is saved to checkpoint_path as save() writes it
  // (atomically: a crash while saving keeps the previous file). 0: never. A job killed at any
  // moment loses at most checkpoint_every rounds; load() the file and run_until() to go on.
  Index checkpoint_every = 0;
  std::filesystem::path checkpoint_path{};
  // When set, the History as CSV (History::to_csv), each row appended and flushed as it is
  // recorded; run() first rewrites the file with the rows the run already holds.
  std::filesystem::path history_path{};

  // The parameters an experiment file sets by name (runtime/experiment.hpp); the seed, label,
  // evaluation and paths are the experiment's to choose per run.
  template <class V>
  void fields(V&& v) {
    v("rounds", rounds);
    v("threads", threads);
    v("record_every", record_every);
    v("eval_every", eval_every);
    v("weighting", weighting, {"workers", "samples"});
    v("max_loss_growth", max_loss_growth);
    v("stop_after_loss_rises", stop_after_loss_rises);
    v("target_grad_norm_sq", target_grad_norm_sq);
    v("target_loss_gap", target_loss_gap);
    v("optimal_loss", optimal_loss);
    v("checkpoint_every", checkpoint_every);
    v("cost", cost);
  }

  void validate() const {
    cost.validate();
    require_param(rounds >= 0 && rounds <= max_round, "rounds", rounds, "in 0..2^40");
    require_param(threads >= 1 && threads <= 1024, "threads", threads, "in [1, 1024]");
    require_param(record_every >= 1, "record_every", record_every, ">= 1");
    require_param(eval_every >= 1, "eval_every", eval_every, ">= 1");
    const int w = static_cast<int>(weighting);
    require_param(w == 0 || w == 1, "weighting", w, "workers or samples");
    require_param(std::isfinite(max_loss_growth) && max_loss_growth >= 0, "max_loss_growth",
                  max_loss_growth, ">= 0 and finite (0: never stop for a high loss)");
    require_param(stop_after_loss_rises >= 0, "stop_after_loss_rises", stop_after_loss_rises,
                  ">= 0 (0: never stop for a rising loss)");
    require_param(std::isfinite(target_grad_norm_sq) && target_grad_norm_sq >= 0,
                  "target_grad_norm_sq", target_grad_norm_sq, ">= 0 and finite (0: no target)");
    require_param(std::isfinite(target_loss_gap) && target_loss_gap >= 0, "target_loss_gap",
                  target_loss_gap, ">= 0 and finite (0: no target)");
    if (target_loss_gap > 0) {
      require_param(std::isfinite(optimal_loss), "optimal_loss", optimal_loss,
                    "finite: f*, which target_loss_gap measures from");
    }
    require_param(checkpoint_every >= 0, "checkpoint_every", checkpoint_every,
                  ">= 0 (0: no periodic checkpoints)");
    if (checkpoint_every > 0) {
      require_param(!checkpoint_path.empty(), "checkpoint_path", "empty",
                    "a file to save to every checkpoint_every rounds");
    }
  }
};

// reached: a target of Options was met.
enum class Status { completed, stopped, diverged, reached };

// Where a non-finite number first appeared, or a message could not be sent, or where the loss
// rose too high or too long.
struct Divergence {
  Index round = 0;
  Index worker = -1;     // -1: on the server
  std::string quantity;  // "gradient", "loss", "message" (to_string(Fault)) or "model"
  Index rises = 0;       // > 0: the loss was finite but rose at this many rows in a row
  double loss = 0;       // ≠ 0: the finite loss that exceeded Options::max_loss_growth
  double start = 0;      // and the loss at round 0

  bool operator==(const Divergence&) const = default;
};

struct RunResult {
  Status status = Status::completed;
  std::optional<Divergence> divergence;
  std::string message;                // why the run ended, for people, and any warnings
  std::vector<std::string> warnings;  // about the method's parameters (step_warnings())
  History history;
  Vector theta;
  Ledger ledger;
  double wall_seconds = 0;
};

// Why the History's last row ends the run as diverged, if it does: a non-finite loss or
// ‖∇f‖²; a loss above Options::max_loss_growth; or (Options::stop_after_loss_rises) a loss
// that rose at that many rows in a row. The rises are read from the History itself, so a
// resumed run stops where the uninterrupted one would; they are counted on the regular rows
// only (rounds that are multiples of record_every), not on the row a run adds at its last
// round, so that a run split anywhere stops where the whole run would.
inline std::optional<Divergence> check_last_row(const History& history, const Options& options) {
  const Record& row = history.rows.back();
  if (!std::isfinite(row.loss) || !std::isfinite(row.grad_norm_sq)) {
    return Divergence{row.round, -1, "loss"};
  }
  const double start = history.rows.front().loss;
  if (options.max_loss_growth > 0 && start != 0 &&
      row.loss - start > options.max_loss_growth * std::abs(start)) {
    return Divergence{.round = row.round, .quantity = "loss", .loss = row.loss, .start = start};
  }
  const Index limit = options.stop_after_loss_rises;
  const auto regular = [&](const Record& r) { return r.round % options.record_every == 0; };
  if (limit == 0 || !regular(row)) return std::nullopt;
  Index rises = 0;
  const Record* later = &row;
  for (auto it = history.rows.rbegin() + 1; it != history.rows.rend() && rises < limit; ++it) {
    if (!regular(*it)) continue;
    if (!(later->loss > it->loss)) return std::nullopt;
    ++rises;
    later = &*it;
  }
  if (rises < limit) return std::nullopt;
  return Divergence{row.round, -1, "loss", limit};
}

// Whether a History row meets a target of the options.
inline bool target_reached(const Record& row, const Options& options) {
  return (options.target_grad_norm_sq > 0 && row.grad_norm_sq < options.target_grad_norm_sq) ||
         (options.target_loss_gap > 0 && row.loss - options.optimal_loss < options.target_loss_gap);
}

// Before a run() continues a history (a resumed checkpoint, or run() called again): drops the
// row the previous run() added at its last round when record_every does not divide that
// round, since the run goes on and an uninterrupted run has no row there.
inline void continue_history(History& history, Index round, const Options& options) {
  if (!history.rows.empty() && history.rows.back().round == round &&
      round % options.record_every != 0) {
    history.rows.pop_back();
  }
}

// Why a run ended, for people, and its warnings.
inline std::string explain(const RunResult& r, const Options& options) {
  std::string why;
  switch (r.status) {
    case Status::completed:
      why = "completed";
      break;
    case Status::stopped:
      why = "stopped by a callback";
      break;
    case Status::reached: {
      const Record& row = r.history.rows.back();
      why = options.target_grad_norm_sq > 0 && row.grad_norm_sq < options.target_grad_norm_sq
                ? fmt::format("reached the target at round {}: ‖∇f‖² = {:.6g} < {:.6g}", row.round,
                              row.grad_norm_sq, options.target_grad_norm_sq)
                : fmt::format("reached the target at round {}: f − f* = {:.6g} < {:.6g}", row.round,
                              row.loss - options.optimal_loss, options.target_loss_gap);
      break;
    }
    case Status::diverged: {
      const Divergence& d = *r.divergence;
      const std::string where =
          d.worker < 0 ? std::string("on the server") : fmt::format("at worker {}", d.worker);
      if (d.rises > 0) {
        why = fmt::format("diverged: the loss rose at {} recorded rounds in a row, up to round {}",
                          d.rises, d.round);
      } else if (d.loss != 0) {
        why = fmt::format(
            "diverged: the loss rose from {:.6g} at round 0 to {:.6g} at round {}, more than "
            "{} times |f₀| above it (Options::max_loss_growth)",
            d.start, d.loss, d.round, options.max_loss_growth);
      } else if (d.quantity == "message") {
        why = fmt::format(
            "diverged: a finite vector {} in round {} overflows what its link's floats carry, "
            "so its message cannot be sent",
            where, d.round);
      } else {
        why = fmt::format("diverged: non-finite {} {} in round {}", d.quantity, where, d.round);
      }
      break;
    }
  }
  for (const std::string& warning : r.warnings) why += "; warning: " + warning;
  return why;
}

// What a callback sees after each round; `record` is set on rounds that made a History row.
struct RoundView {
  Index round;  // rounds completed
  const Vector& theta;
  const Ledger& ledger;
  const Record* record;
};
enum class Control { proceed, stop };
using Callback = std::function<Control(const RoundView&)>;

// The end round of a run_until(): at least the current round, at most max_round.
inline Index checked_end(Index end, Index round) {
  require_param(end >= round && end <= max_round, "run_until round", end,
                fmt::format("in {}..2^40 (the run is at round {})", round, round));
  return end;
}

// The rounds of a run() on the server, the same for both transports: a History row first if
// there is none, then rounds until round `end`, a callback stops the run, a number diverges or
// a target is reached. `step()` runs one round and returns a Divergence if one happened;
// `record()` appends a History row and returns it; `save(path)` writes a checkpoint; `round`,
// `theta` and `ledger` are the run's own, for the callback. Rows go to Options::history_path
// as they are recorded, and checkpoints to Options::checkpoint_path. Fills the status,
// divergence and message of `result`.
template <class Step, class RecordRow, class Save>
void run_rounds(const Options& options, Index end, History& history, const Index& round,
                const Vector& theta, const Ledger& ledger, Step&& step, RecordRow&& record,
                Save&& save, const Callback& on_round, RunResult& result) {
  continue_history(history, round, options);
  HistoryFile csv;
  if (!options.history_path.empty()) csv = HistoryFile(history, options.history_path);
  const auto add_row = [&]() -> const Record& {
    const Record& row = record();
    csv.append(row);
    return row;
  };
  const Index every = options.checkpoint_every;
  Index saved = -1;  // the round of the last checkpoint
  if (history.rows.empty()) {
    add_row();
    if (target_reached(history.rows.back(), options)) result.status = Status::reached;
  }
  while (round < end && result.status == Status::completed) {
    if (auto divergence = step()) {
      result.status = Status::diverged;
      result.divergence = divergence;
    }
    const bool last = round == end;
    const Record* row = nullptr;
    if (!result.divergence && (round % options.record_every == 0 || last)) {
      row = &add_row();
      if (auto divergence = check_last_row(history, options)) {
        result.status = Status::diverged;
        result.divergence = divergence;
      } else if (target_reached(*row, options)) {
        result.status = Status::reached;
      }
    }
    if (result.status == Status::completed && on_round &&
        on_round(RoundView{round, theta, ledger, row}) == Control::stop) {
      result.status = Status::stopped;
    }
    if (every > 0 && round % every == 0) {
      save(options.checkpoint_path);
      saved = round;
    }
  }
  if (every > 0 && saved != round) save(options.checkpoint_path);
  result.history = history;
  result.message = explain(result, options);
}

}  // namespace laconic::sim
