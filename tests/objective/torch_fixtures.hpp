#pragma once

// What the network objectives' tests (objective::Torch, objective::Network) hold a run to.

#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace laconic::test {

// A run of `method` over `team` from theta0, seed 11, `rounds` rounds: the same on 1 and 2
// threads, and when saved after `saved` rounds and loaded into a fresh run that finishes it.
// Returns the uninterrupted run.
template <class Method, class Obj>
sim::RunResult check_repeats(const Method& method, const std::vector<Obj>& team,
                             const Vector& theta0, Index rounds, Index saved,
                             const std::string& name) {
  const auto run = [&](Index n, int threads) {
    return sim::Simulation(method, team, theta0,
                           {.seed = 11, .rounds = n, .threads = threads, .record_every = 5});
  };
  const sim::RunResult one = run(rounds, 1).run();
  const sim::RunResult two = run(rounds, 2).run();
  CHECK(two.theta == one.theta);
  CHECK(two.history == one.history);

  auto first = run(saved, 2);
  first.run();
  const auto path = std::filesystem::temp_directory_path() / "laconic_tests" / (name + ".ckpt");
  first.save(path);
  auto second = run(rounds - saved, 1);
  second.load(path);
  const sim::RunResult rest = second.run();
  CHECK(rest.theta == one.theta);
  CHECK(rest.history == one.history);
  CHECK(rest.ledger == one.ledger);
  return one;
}

}  // namespace laconic::test
