// LASG (Chen, Sun, Yin, IEEE TSP 2021) Fig. 2: why LAG's rule fails with stochastic gradients.
// Synthetic logistic regression, 10 iterations per epoch (each worker's minibatch is a tenth
// of its data). Stochastic LAG-WK compares two gradients on *different* samples, so their
// difference never falls below the shrinking threshold: with c = 0.4 it almost never skips,
// with c = 4 only at the start. LASG-WK2 compares two gradients on the *same* sample and
// skips throughout. docs/experiments/lasg.md shows the upload counts over the iterations.
//
// The links carry exact 64-bit floats (the library's default); --float-bits 32 sends the
// papers' 32-bit floats instead.
//
//   lasg_synthetic [--rounds N] [--threads T] [--out-dir DIR] [--seed S] [--per-worker N]
//                  [--features F] [--float-bits 32|64]

#include <laconic/laconic.hpp>

#include "common/cli.hpp"
#include "common/experiment.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <vector>

namespace {

using namespace laconic;
using examples::Entry;
using examples::entry;
using Logistic = objective::Logistic;

constexpr Index workers = 10;
constexpr double step = 0.1, lambda = 1e-5;

struct Arguments {
  Index rounds = 1000;  // iterations: 100 epochs
  Index per_worker = 5000;
  Index features = 10;
  int threads = 1;
  std::filesystem::path out_dir = "lasg_synthetic";
  Index seed = 1;
  int float_bits = 64;  // of every float on every link
};

}  // namespace

int main(int argc, char** argv) try {
  Arguments args;
  examples::Cli cli("lasg_synthetic",
                    "LASG's synthetic experiment (Chen, Sun, Yin 2021) (docs/experiments/lasg.md)");
  cli.add("--rounds", args.rounds);
  cli.add("--threads", args.threads);
  cli.add("--out-dir", args.out_dir);
  cli.add("--seed", args.seed);
  cli.add("--per-worker", args.per_worker);
  cli.add("--features", args.features);
  cli.add("--float-bits", args.float_bits, {32, 64});
  cli.parse(argc, argv);
  const Index per_worker = args.per_worker, features = args.features;

  const auto synthetic =
      data::make_logistic({.samples = workers * per_worker, .features = features, .seed = 2});
  examples::Problem<Logistic> problem{.options = {.seed = static_cast<std::uint64_t>(args.seed),
                                                  .rounds = args.rounds,
                                                  .threads = args.threads,
                                                  .record_every = 1},
                                      .float_bits = args.float_bits};
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = workers})) {
    problem.workers.emplace_back(shard, Logistic::Params{.lambda = lambda});
  }

  const server::Sgd::Params sgd{.step = server::StepSize::constant(step),
                                .batch = server::Batch::share(0.1)};
  // LAG's rule (LASG eq. 7) with d_max = 10 steps: skip iff ‖Δg‖² ≤ (c/10) Σ ‖Δθ‖².
  auto lag = [&](double c) { return LagWk{.skip = {.D = 10, .c = c}, .server = sgd}; };
  const std::vector<Entry<Logistic>> entries = {
      entry<Logistic>("sgd", "SGD", Sgd{.server = sgd}),
      entry<Logistic>("lag_wk_c0.4", "LAG-WK c=0.4", lag(0.4)),
      entry<Logistic>("lag_wk_c4", "LAG-WK c=4", lag(4)),
      entry<Logistic>("lasg_wk2", "LASG-WK2 c=1/eta^2",
                      LasgWk2{.skip = {.D = 100, .d_max = 10}, .server = sgd}),
  };

  fmt::print(
      "synthetic logistic regression: M = {}, {} samples per worker, {} features, batch {} "
      "(10 iterations per epoch), eta = {}, {} iterations, {}-bit floats on the links\n",
      workers, per_worker, features, sgd.batch.size_for(per_worker), step, args.rounds,
      args.float_bits);
  const auto outcomes =
      examples::run_all(problem, entries, examples::budget_columns(), args.out_dir);

  // Where each method's uploads went: the paper's point is that LAG-WK with c = 4 skips
  // early on and then hardly at all.
  const Index quarter = std::max<Index>(1, args.rounds / 4);
  fmt::print("\nuploads per quarter of the run (of {} possible each):\n", workers * quarter);
  for (const examples::Outcome& o : outcomes) {
    std::string line = fmt::format("{:<{}}", o.name, examples::method_width);
    std::uint64_t before = 0;
    for (Index q = 1; q <= 4; ++q) {
      const sim::Record* row = o.first(
          [&](const sim::Record& r) { return r.round >= std::min(q * quarter, o.rounds()); });
      const std::uint64_t now = row != nullptr ? row->traffic.uploads : before;
      line += fmt::format(" {:>8}", now - before);
      before = now;
    }
    fmt::print("{}\n", line);
  }
  fmt::print("\nhistories written to {}/\n", args.out_dir.string());
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "lasg_synthetic: {}\n", error.what());
  return 1;
}
