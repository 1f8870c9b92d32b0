// What a run is asked to do and how it ends (sim/run.hpp): targets, the weighting of the
// workers, warnings about the step size, and the default stop for a loss that blows up.

#include <laconic/data/libsvm.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "sim/fixtures.hpp"
#include "skip/fixtures.hpp"
#include "support.hpp"

#include <cmath>
#include <deque>
#include <numeric>
#include <vector>

using namespace laconic;

namespace {

constexpr Index p = 6;

// Three workers holding 40, 100 and 160 of 300 synthetic logistic-regression samples.
std::shared_ptr<const data::Dataset> samples() {
  static const auto data = data::make_logistic({.samples = 300, .features = p, .seed = 5}).data;
  return data;
}
std::vector<objective::Logistic> unequal_workers() {
  std::vector<objective::Logistic> workers;
  for (const auto& [begin, end] : {std::pair<Index, Index>{0, 40}, {40, 140}, {140, 300}}) {
    workers.emplace_back(data::Shard{samples(), begin, end},
                         objective::Logistic::Params{.lambda = 1e-3});
  }
  return workers;
}
objective::Logistic pooled() {
  return objective::Logistic(data::whole(samples()), {.lambda = 1e-3});
}

}  // namespace

TEST_CASE("a run stops when it reaches a target: the uploads to reach epsilon", "[sim]") {
  // GD on f = ½‖θ − c̄‖² + const: ‖∇f‖² = (1 − η)^{2k} ‖θ⁰ − c̄‖², so with η = ½ it falls
  // fourfold a round.
  std::vector<test::Points> workers{test::Points({Vector::Constant(2, 1.0)}),
                                    test::Points({Vector::Constant(2, 3.0)})};
  const Sgd gd{.server = {.step = server::StepSize::constant(0.5)}};
  const double start = 2 * 2.0 * 2.0;  // θ⁰ = 0, c̄ = (2, 2)
  const auto run = [&](const sim::Options& options) {
    return sim::Simulation(gd, workers, Vector::Zero(2), options).run();
  };
  const auto reached = run({.rounds = 100, .target_grad_norm_sq = 1e-6});
  CHECK(reached.status == sim::Status::reached);
  // The first k with 8 · 4^−k < 1e-6 is 12.
  const sim::Record& row = reached.history.rows.back();
  CHECK(row.round == 12);
  CHECK(row.grad_norm_sq == Approx(start * std::pow(0.25, 12)).epsilon(1e-12));
  CHECK(row.traffic.uploads == 2 * 12);  // the uploads to reach ε
  CHECK_THAT(reached.message, Catch::StartsWith("reached the target at round 12: ‖∇f‖²"));

  // f − f* < ε with f* given (f* = ½ · 1 per point, the spread of the two points).
  const auto gap = run({.rounds = 100, .target_loss_gap = 1e-6, .optimal_loss = 1.0});
  CHECK(gap.status == sim::Status::reached);
  CHECK(gap.history.rows.back().loss - 1.0 < 1e-6);
  CHECK(gap.history.rows[gap.history.rows.size() - 2].loss - 1.0 >= 1e-6);
  CHECK_THAT(gap.message, Catch::Contains("f − f* ="));
  // Checked at History rows only; not reached, the run completes.
  CHECK(run({.rounds = 100, .record_every = 5, .target_grad_norm_sq = 1e-6})
            .history.rows.back()
            .round == 15);
  CHECK(run({.rounds = 5, .target_grad_norm_sq = 1e-6}).status == sim::Status::completed);

  CHECK_THAT(test::refusal([&] { run({.target_loss_gap = 1e-3}); }),
             Catch::Contains("optimal_loss = nan: must be finite"));
  CHECK_THAT(test::refusal([&] { run({.target_grad_norm_sq = -1}); }),
             Catch::Contains("target_grad_norm_sq = -1"));
}

TEST_CASE("weighting by samples makes f the mean over all samples", "[sim]") {
  const Gd gd{.server = {.step = server::StepSize::constant(1.0)}};
  const sim::Options by_samples{.rounds = 50, .weighting = sim::Weighting::samples};
  const auto weighted = sim::Simulation(gd, unequal_workers(), Vector::Zero(p), by_samples).run();
  const auto one =
      sim::Simulation(gd, std::vector{pooled()}, Vector::Zero(p), {.rounds = 50}).run();
  // The same f measured and the same iterates as GD on the pooled data, up to the order of
  // summation.
  for (std::size_t i = 0; i < one.history.rows.size(); ++i) {
    CHECK(weighted.history.rows[i].loss == Approx(one.history.rows[i].loss).epsilon(1e-12));
  }
  CHECK((weighted.theta - one.theta).norm() <= 1e-12 * one.theta.norm());
  // The plain mean weighs the 40-sample worker as much as the 160-sample one: another f.
  const auto plain = sim::Simulation(gd, unequal_workers(), Vector::Zero(p), {.rounds = 50}).run();
  CHECK((plain.theta - one.theta).norm() > 1e-3 * one.theta.norm());
  CHECK_THAT(test::refusal([&] {
               sim::Simulation(gd, unequal_workers(), Vector::Zero(p),
                               {.weighting = static_cast<sim::Weighting>(2)});
             }),
             Catch::Contains("weighting = 2"));
}

// LAG in its paper's sum form over shards of unequal sizes (no padding): L_m = n_m f_m,
// θ ← θ − α Σ_m ∇L_m(θ̂_m), and worker m uploads iff
// ‖∇L_m(θ^k) − ∇L_m(θ̂_m)‖² > (1/(α²M²)) ξ Σ_{d=1}^{D} ‖θ^{k+1−d} − θ^{k−d}‖².
// laconic's LAG-WK with Weighting::samples and η = αN is that method.
TEST_CASE("LAG-WK weighted by samples is LAG's sum form over unequal shards", "[sim]") {
  constexpr Index M = 3, D = 10, rounds = 200;  // before rounding decides, near round 245
  constexpr double xi = 0.1;
  auto workers = unequal_workers();
  const double n_total = 300;
  const double alpha = 1 / (n_total * test::largest_smoothness(workers));
  const LagWk lag{.skip = {.D = D, .xi = xi},
                  .server = {.step = server::StepSize::constant(alpha * n_total)}};
  const auto run = sim::Simulation(lag, workers, Vector::Zero(p),
                                   {.rounds = rounds, .weighting = sim::Weighting::samples})
                       .run();

  std::vector<Vector> held(M, Vector::Zero(p));  // ∇L_m(θ̂_m)
  Vector theta = Vector::Zero(p), g(p);
  std::deque<double> steps(D, 0.0);
  std::uint64_t uploads = 0;
  for (Index k = 0; k < rounds; ++k) {
    const double rhs = xi * std::accumulate(steps.begin(), steps.end(), 0.0) /
                       (alpha * alpha * static_cast<double>(M * M));
    for (Index m = 0; m < M; ++m) {
      auto& w = workers[static_cast<std::size_t>(m)];
      w.full_gradient(theta, g);
      g *= static_cast<double>(w.size());  // ∇L_m = n_m ∇f_m
      if ((g - held[static_cast<std::size_t>(m)]).squaredNorm() > rhs) {
        held[static_cast<std::size_t>(m)] = g;
        ++uploads;
      }
    }
    Vector sum = Vector::Zero(p);
    for (const Vector& h : held) sum += h;
    const Vector before = theta;
    theta -= alpha * sum;
    steps.push_front((theta - before).squaredNorm());
    steps.pop_back();
  }
  INFO(uploads << " uploads of " << M * rounds);
  CHECK(uploads < M * rounds / 2);
  CHECK(run.ledger.total().uploads == uploads);
  CHECK((run.theta - theta).norm() <= 1e-10 * theta.norm());
}

TEST_CASE("a step above 2/L is warned about, naming eta and 2/L", "[sim]") {
  const auto workers = test::logistic_workers(4, 200, p);
  double mean_l = 0;
  for (const auto& w : workers) mean_l += w.smoothness() / 4;
  const auto gd = [&](double eta) {
    return sim::Simulation(Gd{.server = {.step = server::StepSize::constant(eta)}}, workers,
                           Vector::Zero(p), {.rounds = 3});
  };
  CHECK(gd(1 / mean_l).warnings().empty());
  auto unstable = gd(3 / mean_l);
  REQUIRE(unstable.warnings().size() == 1);
  CHECK_THAT(unstable.warnings()[0], Catch::Contains(fmt::format("η = {:.6g}", 3 / mean_l)) &&
                                         Catch::Contains(fmt::format("2/L = {:.6g}", 2 / mean_l)));
  const auto result = unstable.run();
  CHECK(result.warnings == unstable.warnings());
  CHECK_THAT(result.message, Catch::Contains("; warning: server.step"));
  // Local steps are judged against each worker's own L_m; AMSGrad's steps are not judged.
  double largest = test::largest_smoothness(workers);
  CHECK(sim::Simulation(LocalSgd{.server = {.step = server::StepSize::constant(3 / largest)}},
                        workers, Vector::Zero(p))
            .warnings()
            .size() == 1);
  CHECK(sim::Simulation(Amsgrad{.server = {.step = server::StepSize::constant(100)}}, workers,
                        Vector::Zero(p))
            .warnings()
            .empty());
}

// The outside user's case: raw (unscaled) svmguide1, features up to ~300, a step ~1000 times
// 1/L. The loss climbs from log 2 to thousands; the run must not report "completed".
TEST_CASE("a diverging run on raw svmguide1 ends as diverged, with a warning", "[sim][data]") {
  const auto path = test::data_file("svmguide1/svmguide1.txt");
  if (!path) return;
  const auto data = std::make_shared<const data::Dataset>(data::read_libsvm(*path));
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(data, {.workers = 4})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-4});
  }
  const double l = test::largest_smoothness(workers);
  sim::Simulation sim(Gd{.server = {.step = server::StepSize::constant(1000 / l)}}, workers,
                      Vector::Zero(data->cols()), {.rounds = 200});
  REQUIRE(sim.warnings().size() == 1);
  const auto result = sim.run();
  INFO(result.message);
  CHECK(result.status == sim::Status::diverged);
  REQUIRE(result.divergence);
  CHECK(result.divergence->loss > 100 * std::log(2.0));
  CHECK_THAT(result.message, Catch::Contains("diverged: the loss rose from 0.693147 at round 0") &&
                                 Catch::Contains("warning: server.step"));
}
