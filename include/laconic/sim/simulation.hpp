#pragma once

// The in-process simulated server/worker loop. One round k:
//   1. the server broadcasts θ^k through the downlink channel (encoded once, counted per
//      recipient); workers compute at the decoded model;
//   2. every worker draws its minibatch from its own stream (seed, k, worker, batch) and
//      computes its gradient;
//   3. it uploads the gradient through its own uplink channel (counted per worker);
//   4. the server averages what it decoded and updates θ.
// A link is a channel (compress/channel.hpp): a plain compressor, or one with memory on both
// ends such as Markov (then the server averages the workers' estimates ŵ_m, EF21's g^k) or
// ErrorFeedback.
// Workers run on a thread pool. Their decoded gradients are summed in fixed groups of
// consecutive workers, each in worker order, and then the groups in order, so the result is
// bit-identical for every thread count.

#include <laconic/compress/channel.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/sim/thread_pool.hpp>
#include <laconic/skip/never.hpp>
#include <laconic/version.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace laconic::sim {

struct Options {
  std::uint64_t seed = 0;
  Index rounds = 100;
  int threads = 1;
  Index record_every = 1;  // a History row every this many rounds (and after the last)
  Index eval_every = 1;    // test accuracy on rows whose round is a multiple of this
  std::string label{};     // a name for the run, written into the CSV header
  // Optional held-out evaluation of the model, e.g. accuracy on a test set.
  std::function<double(const Vector&)> test_accuracy{};

  void validate() const {
    require_param(rounds >= 0, "rounds", rounds, ">= 0");
    require_param(threads >= 1 && threads <= 1024, "threads", threads, "in [1, 1024]");
    require_param(record_every >= 1, "record_every", record_every, ">= 1");
    require_param(eval_every >= 1, "eval_every", eval_every, ">= 1");
  }
};

enum class Status { completed, stopped, diverged };

// Where a non-finite number first appeared.
struct Divergence {
  Index round = 0;
  Index worker = -1;     // -1: on the server
  std::string quantity;  // "gradient", "model" or "loss"
};

struct RunResult {
  Status status = Status::completed;
  std::optional<Divergence> divergence;
  std::string message;  // why the run ended, for people
  History history;
  Vector theta;
  Ledger ledger;
  double wall_seconds = 0;
};

// What a callback sees after each round; `record` is set on rounds that made a History row.
struct RoundView {
  Index round;  // rounds completed
  const Vector& theta;
  const Ledger& ledger;
  const Record* record;
};
enum class Control { proceed, stop };
using Callback = std::function<Control(const RoundView&)>;

template <class M, Objective Obj>
class Simulation {
  using Skip = typename M::SkipRule;
  using Uplink = compress::channel_t<typename M::UplinkCompressor>;
  using Server = typename M::ServerUpdate;
  using Downlink = compress::channel_t<typename M::DownlinkCompressor>;
  static_assert(std::same_as<Skip, skip::Never>,
                "this simulation loop implements the skip rule Never only; lazy aggregation is "
                "not built yet");
  static_assert(std::same_as<Server, server::Sgd>,
                "this simulation loop implements the Sgd server update only");

 public:
  Simulation(const M& method, std::vector<Obj> workers, Vector theta0, Options options = {})
      : skip_(method.skip),
        uplink_(method.uplink),
        server_(method.server),
        downlink_(method.downlink),
        workers_(std::move(workers)),
        theta_(std::move(theta0)),
        options_(std::move(options)),
        ledger_(static_cast<Index>(workers_.size())),
        pool_(options_.threads) {
    options_.validate();
    require_param(!workers_.empty(), "workers.size()", workers_.size(), ">= 1");
    const Index p = theta_.size();
    Index largest = 0;
    for (std::size_t m = 0; m < workers_.size(); ++m) {
      const Obj& w = workers_[m];
      require_param(w.dim() == p, fmt::format("workers[{}].dim()", m), w.dim(),
                    fmt::format("equal to theta0.size() = {}", p));
      require_param(w.size() >= 1, fmt::format("workers[{}].size()", m), w.size(), ">= 1");
      const Index b = batch().size_for(w.size());
      require_param(b <= w.size(), "server.batch.samples", b,
                    fmt::format("at most the {} samples of worker {}", w.size(), m));
      largest = std::max(largest, w.size());
    }
    require_param(theta_.allFinite(), "theta0", "a non-finite entry", "finite");

    const auto groups = std::min<std::size_t>(workers_.size(), max_groups);
    group_sum_.assign(groups, Vector::Zero(p));
    group_loss_.assign(groups, 0.0);
    scratch_.resize(static_cast<std::size_t>(pool_.threads()));
    for (auto& s : scratch_) {
      s.gradient = Vector::Zero(p);
      s.decoded = Vector::Zero(p);
      s.order.resize(static_cast<std::size_t>(largest));
      std::iota(s.order.begin(), s.order.end(), Index{0});
      s.swaps.resize(static_cast<std::size_t>(largest));
    }
    outcome_.resize(workers_.size());
    up_state_.reserve(workers_.size());
    for (std::size_t m = 0; m < workers_.size(); ++m) up_state_.push_back(uplink_.make_state(p));
    down_state_ = downlink_.make_state(p);
    model_ = Vector::Zero(p);
    aggregate_ = Vector::Zero(p);
    history_.description = describe();
  }

  // "laconic 0.1.0; label; method; workers; dim; seed" — the CSV header line.
  std::string describe() const {
    return fmt::format(
        "laconic {}.{}.{}; label={}; skip={}; uplink={}; server={}; downlink={}; workers={}; "
        "dim={}; seed={}",
        version_major, version_minor, version_patch, options_.label, skip_.describe(),
        uplink_.describe(), server_.describe(), downlink_.describe(), workers_.size(),
        theta_.size(), options_.seed);
  }

  // Runs options.rounds rounds (or until a callback stops it or a number diverges).
  RunResult run(const Callback& on_round = {}) {
    const auto start = std::chrono::steady_clock::now();
    RunResult result;
    if (history_.rows.empty()) record();
    for (Index r = 0; r < options_.rounds && result.status == Status::completed; ++r) {
      if (auto divergence = step()) {
        result.status = Status::diverged;
        result.divergence = divergence;
      }
      const bool last = r + 1 == options_.rounds;
      const Record* row = nullptr;
      if (!result.divergence && (round_ % options_.record_every == 0 || last)) {
        row = &record();
        if (!std::isfinite(row->loss) || !std::isfinite(row->grad_norm_sq)) {
          result.status = Status::diverged;
          result.divergence = Divergence{round_, -1, "loss"};
        }
      }
      if (result.status == Status::completed && on_round &&
          on_round(RoundView{round_, theta_, ledger_, row}) == Control::stop) {
        result.status = Status::stopped;
      }
    }
    result.message = explain(result);
    result.history = history_;
    result.theta = theta_;
    result.ledger = ledger_;
    result.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  Index round() const { return round_; }
  const Vector& theta() const { return theta_; }
  const Ledger& ledger() const { return ledger_; }
  const History& history() const { return history_; }
  const std::vector<Obj>& workers() const { return workers_; }

 private:
  // Consecutive workers are summed in at most this many groups; a constant, so that the
  // summation order does not depend on the number of threads.
  static constexpr std::size_t max_groups = 64;

  struct Scratch {
    Vector gradient;
    Vector decoded;
    std::vector<Index> order;  // 0..n-1, restored after each minibatch
    std::vector<Index> swaps;
  };
  struct Outcome {
    Bits up;
    bool finite = true;
  };

  const server::Batch& batch() const { return server_.params().batch; }

  std::size_t group_begin(std::size_t g) const { return g * workers_.size() / group_sum_.size(); }

  // The mean gradient of worker m at x over its minibatch for `round` (all samples for a
  // full batch); writes it to s.gradient and returns the mean loss.
  double local_gradient(std::size_t m, const Vector& x, Index round, Scratch& s) {
    Obj& w = workers_[m];
    const Index n = w.size();
    if (batch().is_full()) {
      if constexpr (HasFullGradient<Obj>) {
        return w.full_gradient(x, s.gradient);
      } else {
        return w.gradient(x, std::span<const Index>(s.order.data(), static_cast<std::size_t>(n)),
                          s.gradient);
      }
    }
    // A partial Fisher–Yates shuffle picks b distinct samples; undoing the swaps afterwards
    // leaves `order` as 0..n-1 for the next worker, with no per-worker state.
    const Index b = batch().size_for(n);
    RandomStream rng(options_.seed, Purpose::batch, static_cast<std::uint64_t>(round), m);
    for (Index i = 0; i < b; ++i) {
      const auto j = i + static_cast<Index>(rng.below(static_cast<std::uint64_t>(n - i)));
      s.swaps[static_cast<std::size_t>(i)] = j;
      std::swap(s.order[static_cast<std::size_t>(i)], s.order[static_cast<std::size_t>(j)]);
    }
    const double loss = w.gradient(
        x, std::span<const Index>(s.order.data(), static_cast<std::size_t>(b)), s.gradient);
    for (Index i = b - 1; i >= 0; --i) {
      std::swap(s.order[static_cast<std::size_t>(i)],
                s.order[static_cast<std::size_t>(s.swaps[static_cast<std::size_t>(i)])]);
    }
    return loss;
  }

  // One round; returns where a non-finite number appeared, if one did.
  std::optional<Divergence> step() {
    const Index k = round_;
    const std::uint64_t server_id = workers_.size();
    RandomStream down_rng(options_.seed, Purpose::compress, static_cast<std::uint64_t>(k),
                          server_id);
    const Bits down = downlink_.send(down_state_, theta_, model_, down_rng);

    pool_.parallel_for(static_cast<std::int64_t>(group_sum_.size()), [&](std::int64_t g, int t) {
      Scratch& s = scratch_[static_cast<std::size_t>(t)];
      Vector& sum = group_sum_[static_cast<std::size_t>(g)];
      sum.setZero();
      const std::size_t end = group_begin(static_cast<std::size_t>(g) + 1);
      for (std::size_t m = group_begin(static_cast<std::size_t>(g)); m < end; ++m) {
        local_gradient(m, model_, k, s);
        Outcome& out = outcome_[m];
        out.finite = s.gradient.allFinite();
        if (!out.finite) continue;
        RandomStream up_rng(options_.seed, Purpose::compress, static_cast<std::uint64_t>(k), m);
        out.up = uplink_.send(up_state_[m], s.gradient, s.decoded, up_rng);
        sum += s.decoded;
      }
    });

    for (std::size_t m = 0; m < workers_.size(); ++m) {
      const auto w = static_cast<Index>(m);
      ledger_.download(w, down);
      ledger_.gradient_samples(w, static_cast<std::uint64_t>(batch().size_for(workers_[m].size())));
      if (!outcome_[m].finite) return Divergence{k, w, "gradient"};
      ledger_.upload(w, outcome_[m].up);
    }
    aggregate_.setZero();
    for (const Vector& sum : group_sum_) aggregate_ += sum;
    aggregate_ /= static_cast<double>(workers_.size());
    server_.update(k, aggregate_, theta_);
    ++round_;
    if (!theta_.allFinite()) return Divergence{k, -1, "model"};
    return std::nullopt;
  }

  // Appends the History row for the current θ: loss and gradient of (1/M) Σ f_m, computed
  // from full local gradients (not counted in the ledger: this is measurement, not training).
  const Record& record() {
    pool_.parallel_for(static_cast<std::int64_t>(group_sum_.size()), [&](std::int64_t g, int t) {
      Scratch& s = scratch_[static_cast<std::size_t>(t)];
      Vector& sum = group_sum_[static_cast<std::size_t>(g)];
      double& loss = group_loss_[static_cast<std::size_t>(g)];
      sum.setZero();
      loss = 0;
      const std::size_t end = group_begin(static_cast<std::size_t>(g) + 1);
      for (std::size_t m = group_begin(static_cast<std::size_t>(g)); m < end; ++m) {
        Obj& w = workers_[m];
        if constexpr (HasFullGradient<Obj>) {
          loss += w.full_gradient(theta_, s.gradient);
        } else {
          loss += w.gradient(
              theta_, std::span<const Index>(s.order.data(), static_cast<std::size_t>(w.size())),
              s.gradient);
        }
        sum += s.gradient;
      }
    });
    aggregate_.setZero();
    double loss = 0;
    for (std::size_t g = 0; g < group_sum_.size(); ++g) {
      aggregate_ += group_sum_[g];
      loss += group_loss_[g];
    }
    const auto workers = static_cast<double>(workers_.size());
    Record row;
    row.round = round_;
    row.loss = loss / workers;
    row.grad_norm_sq = (aggregate_ / workers).squaredNorm();
    if (options_.test_accuracy && round_ % options_.eval_every == 0) {
      row.test_accuracy = options_.test_accuracy(theta_);
    }
    row.traffic = ledger_.total();
    history_.rows.push_back(row);
    return history_.rows.back();
  }

  static std::string explain(const RunResult& r) {
    switch (r.status) {
      case Status::completed:
        return "completed";
      case Status::stopped:
        return "stopped by a callback";
      case Status::diverged: {
        const Divergence& d = *r.divergence;
        const std::string where =
            d.worker < 0 ? std::string("on the server") : fmt::format("at worker {}", d.worker);
        return fmt::format("diverged: non-finite {} {} in round {}", d.quantity, where, d.round);
      }
    }
    return {};
  }

  Skip skip_;
  Uplink uplink_;
  Server server_;
  Downlink downlink_;
  std::vector<typename Uplink::State> up_state_;  // one uplink channel per worker
  typename Downlink::State down_state_;           // the broadcast channel
  std::vector<Obj> workers_;
  Vector theta_;
  Options options_;
  Ledger ledger_;
  ThreadPool pool_;
  History history_;
  Index round_ = 0;

  Vector model_;      // θ as the workers decode it
  Vector aggregate_;  // the server's mean gradient
  std::vector<Vector> group_sum_;
  std::vector<double> group_loss_;
  std::vector<Scratch> scratch_;
  std::vector<Outcome> outcome_;
};

}  // namespace laconic::sim
