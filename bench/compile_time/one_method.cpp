// What a user's program that trains with one named method compiles: laconic.hpp, synthetic
// data, LASG-WK2 on logistic regression over 10 workers, a History written as CSV
// (bench/compile_time.py times it; it is compiled, not run).

#include <laconic/laconic.hpp>

#include <vector>

using namespace laconic;

int main() {
  const auto synthetic = data::make_logistic({.samples = 5000, .features = 50, .seed = 1});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = 10}))
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  const LasgWk2 method{
      .skip = {.D = 50, .d_max = 10},
      .server = {.step = server::StepSize::constant(0.1), .batch = server::Batch::of(16)}};
  sim::Simulation simulation(method, workers, Vector::Zero(50),
                             {.seed = 1, .rounds = 100, .record_every = 10});
  simulation.run().history.write_csv("lasg_wk2.csv");
}
