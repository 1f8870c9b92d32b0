// The smallest real use of an installed laconic: distributed GD on synthetic logistic data.
// Exits non-zero unless the loss went down, so the packaging tests prove the headers work,
// not only that they compile.

#include <laconic/laconic.hpp>

#include <fmt/core.h>

int main() {
  using namespace laconic;
  const auto synthetic = data::make_logistic({.samples = 400, .features = 10, .seed = 3});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = 4})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  }
  Gd method{.server = {.step = server::StepSize::constant(1.0)}};
  sim::Simulation simulation(method, workers, Vector::Zero(10), {.rounds = 20});
  const sim::RunResult result = simulation.run();
  const double first = result.history.rows.front().loss;
  const double last = result.history.rows.back().loss;
  fmt::print("laconic {}.{}.{}: loss {:.4f} -> {:.4f}\n", LACONIC_VERSION_MAJOR,
             LACONIC_VERSION_MINOR, LACONIC_VERSION_PATCH, first, last);
  return result.status == sim::Status::completed && last < first ? 0 : 1;
}
