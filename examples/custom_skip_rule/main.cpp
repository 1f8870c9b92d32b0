// Writing your own skip rule: a worker uploads only when its fresh gradient has moved, since
// its last upload, by more than a fraction of what the server holds for it, and at the latest
// after D skips in a row. Written against the SkipRule contract (laconic/skip/skip_rule.hpp),
// run against gradient descent, and saved and resumed from a checkpoint.

#include <laconic/laconic.hpp>

#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

using namespace laconic;

namespace {

class RelativeChange {
 public:
  struct Params {
    double fraction = 0.1;  // upload when ‖g − held‖ > fraction · ‖held‖
    Index max_skips = 10;   // D: upload at the latest after this many skips in a row
  };
  static constexpr skip::Side side = skip::Side::worker;  // decides after the gradient

  explicit RelativeChange(const Params& params) : params_(params) {
    require_param(params_.fraction >= 0 && std::isfinite(params_.fraction), "fraction",
                  params_.fraction, ">= 0 and finite");
    require_param(params_.max_skips >= 0, "max_skips", params_.max_skips, ">= 0");
  }

  // One counter per worker; "D skips already" makes every worker upload in round 0.
  void start(const skip::Setup& setup) {
    skips_.assign(static_cast<std::size_t>(setup.workers), params_.max_skips);
  }
  void begin_round(Index /*k*/, const Vector& /*theta*/) {}
  void end_round(double /*step_sq*/) {}

  // Called concurrently for different workers: touches only worker m's counter.
  bool upload(Index m, skip::Probe& probe) {
    Index& skips = skips_[static_cast<std::size_t>(m)];
    const Vector& held = probe.contribution();  // what the server holds: the last upload
    const double moved = (probe.gradient() - held).norm();
    const bool send = skips >= params_.max_skips || moved > params_.fraction * held.norm();
    skips = send ? 0 : skips + 1;
    return send;
  }

  template <class Io>
  void state(Io& io) {
    io(skips_);  // the same function writes and reads a checkpoint
  }
  // Worker m's own part of the state: over MPI, the rank hosting m keeps it.
  template <class Io>
  void worker_state(Index m, Io& io) {
    io(skips_[static_cast<std::size_t>(m)]);
  }
  std::string describe() const {
    return fmt::format("relative_change(fraction={}, max_skips={})", params_.fraction,
                       params_.max_skips);
  }
  const std::vector<Index>& skips() const { return skips_; }

 private:
  Params params_;
  std::vector<Index> skips_;
};
static_assert(skip::SkipRule<RelativeChange>);

using LazyGd = Method<RelativeChange, compress::Identity, server::Sgd>;

}  // namespace

int main() {
  const auto problem = data::make_logistic({.samples = 2000, .features = 50, .seed = 3});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(problem.data, {.workers = 10})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  }
  const server::Sgd::Params step{.step = server::StepSize::constant(0.5)};
  const LazyGd lazy{.skip = {.fraction = 0.1, .max_skips = 10}, .server = step};
  const sim::Options options{.seed = 1, .rounds = 200, .record_every = 50};
  const Vector theta0 = Vector::Zero(50);

  // 1. The rule against GD over 200 rounds: the uploads it saves, the loss it reaches.
  const sim::RunResult gd = sim::Simulation(Gd{.server = step}, workers, theta0, options).run();
  sim::Simulation first(lazy, workers, theta0, options);
  const sim::RunResult mine = first.run();
  const double saved = 1 - static_cast<double>(mine.ledger.total().uploads) /
                               static_cast<double>(gd.ledger.total().uploads);
  const double gap = mine.history.rows.back().loss - gd.history.rows.back().loss;
  fmt::print("GD: {} uploads, loss {:.8f}\n", gd.ledger.total().uploads,
             gd.history.rows.back().loss);
  fmt::print("{}: {} uploads ({:.0f}% saved), loss {:+.1e} from GD's\n",
             first.skip_rule().describe(), mine.ledger.total().uploads, 100 * saved, gap);

  // 2. A checkpoint after 200 rounds, resumed in a new simulation built the same way: the next
  // 200 rounds equal those of the simulation that went on.
  const std::filesystem::path path = "custom_skip_rule.ckpt";
  first.save(path);
  const sim::RunResult went_on = first.run();
  sim::Simulation second(lazy, workers, theta0, options);
  second.load(path);
  const sim::RunResult resumed = second.run();
  std::filesystem::remove(path);
  const bool same = resumed.theta == went_on.theta && resumed.ledger == went_on.ledger &&
                    resumed.history == went_on.history &&
                    second.skip_rule().skips() == first.skip_rule().skips();
  fmt::print("resumed from {}: {} after 400 rounds (loss {:.10f})\n", path.string(),
             same ? "identical" : "DIFFERENT", resumed.history.rows.back().loss);
  return same && saved > 0.5 && std::abs(gap) < 1e-4 ? 0 : 1;
}
