#pragma once

// What the runtime layer's tests hold a method chosen at run time against.

#include <laconic/runtime/simulation.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace laconic::test {

// The simulation of a method with some policies chosen at run time (a laconic::Method over
// runtime policies), or of one chosen wholly at run time (a runtime::Method, run on
// runtime::Objective workers).
template <class Chosen>
struct SimulationOf {
  using Objective = objective::Logistic;
  using type = sim::Simulation<Chosen, Objective>;
};
template <>
struct SimulationOf<runtime::Method> {
  using Objective = runtime::Objective;
  using type = runtime::Simulation<Objective>;
};

// Method `fixed`, a compile-time composition, and `chosen`, the same method with some or all
// of its policies chosen at run time: the same run (θ, History, ledger, description), and the
// fixed run's checkpoint resumes in the chosen one to the same end, whose checkpoint the fixed
// one loads back. Returns the fixed run's result.
template <class Fixed, class Chosen>
sim::RunResult check_same_run(const Fixed& fixed, const Chosen& chosen, const std::string& name) {
  INFO(name);
  using Run = typename SimulationOf<Chosen>::type;
  const sim::Options options{.seed = 8, .rounds = 40, .threads = 2, .record_every = 6};
  const auto workers = logistic_workers(4, 200, 6);
  const auto chosen_workers = [&] {
    return std::vector<typename SimulationOf<Chosen>::Objective>(workers.begin(), workers.end());
  };
  sim::Simulation a(fixed, workers, Vector::Zero(6), options);
  Run b(chosen, chosen_workers(), Vector::Zero(6), options);
  CHECK(b.describe() == a.describe());
  const sim::RunResult ra = a.run(), rb = b.run();
  CHECK(rb.theta == ra.theta);
  CHECK(rb.history == ra.history);
  CHECK(rb.ledger == ra.ledger);

  const auto path = std::filesystem::temp_directory_path() / ("laconic_runtime_" + name);
  a.save(path);
  Run c(chosen, chosen_workers(), Vector::Zero(6), options);
  c.load(path);
  const sim::RunResult rc = c.run(), ra2 = a.run();
  CHECK(rc.theta == ra2.theta);
  CHECK(rc.history == ra2.history);
  c.save(path);
  a.load(path);
  CHECK(a.round() == 2 * options.rounds);
  return ra;
}

// `text` as the experiment file `name` in a scratch folder of this process (ctest runs test
// cases in parallel processes); returns its path.
inline std::filesystem::path experiment_file(const std::string& text,
                                             const std::string& name = "exp.toml") {
  const auto folder = std::filesystem::temp_directory_path() /
                      ("laconic_experiment_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const auto path = folder / name;
  std::ofstream(path) << text;
  return path;
}

// The smallest experiment: synthetic data, logistic regression, one method.
inline const std::string minimal_experiment = R"toml(
[data]
format = "synthetic"
samples = 200
features = 5

[objective]
name = "logistic"

[[method]]
label = "SGD"
spec = "sgd(step=0.5)"
)toml";

}  // namespace laconic::test
