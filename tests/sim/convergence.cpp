// End to end: the simulated loop with the library's own data and objectives reaches the
// optima it should.

#include <laconic/laconic.hpp>

#include "support.hpp"

#include <algorithm>

using namespace laconic;

TEST_CASE("distributed GD on least squares reaches the known minimizer", "[sim]") {
  const auto synthetic = data::make_least_squares({.samples = 600, .features = 8, .seed = 5});
  const double lambda = 1e-2;
  std::vector<objective::LeastSquares> workers;
  std::vector<data::Shard> shards = data::partition(synthetic.data, {.workers = 7});
  double smoothness = 0;
  for (const data::Shard& shard : shards) {
    workers.emplace_back(shard, objective::LeastSquares::Params{.lambda = lambda});
    smoothness = std::max(smoothness, workers.back().smoothness());
  }
  const Vector minimizer = objective::least_squares_minimizer(shards, lambda);

  Gd method{.server = {.step = server::StepSize::constant(1 / smoothness)}};
  sim::Simulation simulation(method, workers, Vector::Zero(8),
                             {.rounds = 2000, .record_every = 500});
  const auto result = simulation.run();
  REQUIRE(result.status == sim::Status::completed);
  CHECK((result.theta - minimizer).norm() <= 1e-9 * minimizer.norm());
  CHECK(result.history.rows.back().grad_norm_sq < 1e-20);
}

TEST_CASE("distributed SGD on a9a reaches the loss of a long full-batch GD run",
          "[sim][data][slow]") {
  const auto path = test::data_file("a9a/a9a");
  if (!path) return;
  const auto a9a = std::make_shared<const data::Dataset>(data::read_libsvm(*path));
  std::vector<objective::Logistic> workers;
  double smoothness = 0;
  for (const data::Shard& shard : data::partition(a9a, {.workers = 10})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
    smoothness = std::max(smoothness, workers.back().smoothness());
  }
  const Vector theta0 = Vector::Zero(a9a->cols());
  const double eta = 1 / smoothness;

  Gd gd{.server = {.step = server::StepSize::constant(eta)}};
  const auto reference =
      sim::Simulation(gd, workers, theta0, {.rounds = 3000, .record_every = 3000}).run();
  const double best = reference.history.rows.back().loss;

  Sgd sgd{
      .server = {.step = server::StepSize::inverse_time(eta, 500), .batch = server::Batch::of(64)}};
  const auto result =
      sim::Simulation(sgd, workers, theta0, {.seed = 11, .rounds = 3000, .record_every = 3000})
          .run();
  const double reached = result.history.rows.back().loss;
  INFO("GD loss " << best << ", SGD loss " << reached);
  CHECK(std::abs(reached - best) <= 1e-3);
  // SGD touched far fewer samples than GD for the same accuracy.
  CHECK(result.ledger.total().gradient_samples * 10 < reference.ledger.total().gradient_samples);
}

TEST_CASE("EF21 with top-1 on mushrooms drives the squared gradient norm below 1e-4",
          "[sim][data][slow]") {
  // The EF21 paper's logistic-regression setting (docs/compressors.md, EF21): 20 workers on
  // contiguous shards, nonconvex regularizer λ = 0.1, full local gradients, top-1, and the
  // theoretical step γ = 1/(L + L̃ √(β/θ)) times a factor.
  const auto path = test::data_file("mushrooms/mushrooms");
  if (!path) return;
  const auto mushrooms = std::make_shared<const data::Dataset>(data::read_libsvm(*path));
  const objective::Logistic::Params params{.lambda = 0.1,
                                           .regularizer = objective::Regularizer::nonconvex};
  std::vector<objective::Logistic> workers;
  double mean_square = 0;
  for (const data::Shard& shard : data::partition(mushrooms, {.workers = 20})) {
    workers.emplace_back(shard, params);
    mean_square += workers.back().smoothness() * workers.back().smoothness() / 20;
  }
  const double L = objective::Logistic(data::whole(mushrooms), params).smoothness();
  const double alpha = 1.0 / static_cast<double>(mushrooms->cols());
  const double s = 1 / std::sqrt(1 - alpha) - 1;
  const double theta = 1 - (1 - alpha) * (1 + s), beta = (1 - alpha) * (1 + 1 / s);
  const double gamma = 1 / (L + std::sqrt(mean_square) * std::sqrt(beta / theta));

  using Start = compress::Markov<compress::TopK>::Start;
  Ef21<compress::TopK> method{.uplink = {.compressor = {.k = 1}, .start = Start::exact},
                              .server = {.step = server::StepSize::constant(8 * gamma)}};
  sim::Simulation simulation(method, workers, Vector::Zero(mushrooms->cols()),
                             {.rounds = 20000, .record_every = 10});
  const auto result = simulation.run([](const sim::RoundView& view) {
    return view.record && view.record->grad_norm_sq < 1e-4 ? sim::Control::stop
                                                           : sim::Control::proceed;
  });
  INFO("gamma = " << gamma << ", rounds = " << result.history.rows.back().round);
  REQUIRE(result.status == sim::Status::stopped);
  CHECK(result.history.rows.back().grad_norm_sq < 1e-4);
  // Each upload after the first is one 64-bit value, a 7-bit index and the format flag; the
  // paper counts its value as 32 bits.
  const auto rounds = static_cast<std::uint64_t>(result.history.rows.back().round);
  CHECK(result.ledger.total().up.values == 20 * (112 * 64 + (rounds - 1) * 64));
  CHECK(result.ledger.total().up.paper == 20 * (112 * 32 + (rounds - 1) * 32));
}
