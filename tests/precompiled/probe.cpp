// A file that trains with a named method on a shipped objective, compiled as laconic::laconic
// compiles users' files (LACONIC_PRECOMPILED): its simulation's code, and the objective's
// smoothness, must come from laconic_precompiled, not from here. tests/CMakeLists.txt reads this
// object's symbols.

#include <laconic/laconic.hpp>

#include <utility>
#include <vector>

laconic::sim::RunResult probe(std::vector<laconic::objective::Logistic> workers) {
  laconic::sim::Simulation simulation(laconic::LasgWk2{}, std::move(workers),
                                      laconic::Vector::Zero(1));
  return simulation.run();
}

double probe_smoothness(const laconic::data::Shard& shard) {
  return laconic::objective::max_eigenvalue_gram(shard);
}
