// The runtime layer's cost: a method chosen at run time (runtime::read_method, run by
// runtime::Simulation on runtime::Objective workers — a virtual call per message, per skip
// decision and per gradient) against the same method fixed at compile time
// (sim::Simulation on objective::Logistic), with the same data, parameters and seed. Both
// must end at the same θ bit for bit (checked before anything is timed); the two sides' runs
// alternate and each figure is the median over its side's runs.
//
// Target (issue 20): runtime / compile-time <= 1.05, on
//   a9a ($LACONIC_BENCH_DATA_DIR/a9a/a9a; skipped with a message when absent): M = 10,
//     λ = 1e-4, η = 0.1, batch 1% of local data, 10^4 rounds;
//   synthetic logistic data with little work per message, where a per-call cost shows most:
//     M = 20, p = 50, 100 samples per worker, batch 1, 2·10^4 rounds.
// for SGD, LASG-WK2 (D = 100, d_max = 10) and EF21 with top-1.
//
// Usage: bench_runtime [repetitions]

#include <laconic/laconic.hpp>
#include <laconic/runtime/simulation.hpp>
#include <laconic/runtime/spec.hpp>

#include <fmt/format.h>

#include "timing.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace laconic;

struct Problem {
  std::string name;
  std::vector<objective::Logistic> workers;
  Index rounds;
  std::string batch;  // as the specification writes it
  server::Batch fixed_batch;
};

// One method, fixed and chosen: the ratio of their median times.
template <class Fixed>
void compare(const Problem& problem, const Fixed& fixed, const std::string& spec,
             const std::string& label, int repetitions) {
  const runtime::Method chosen = runtime::read_method(spec, {"bench"});
  const std::vector<runtime::Objective> erased(problem.workers.begin(), problem.workers.end());
  const Vector theta0 = Vector::Zero(problem.workers.front().dim());
  const sim::Options options{.seed = 3, .rounds = problem.rounds, .record_every = problem.rounds};

  sim::Simulation a(fixed, problem.workers, theta0, options);
  runtime::Simulation<> b(chosen, erased, theta0, options);
  if (a.run().theta != b.run().theta) {
    fmt::print("{} {}: the runtime run differs from the compile-time run\n", problem.name, label);
    std::exit(1);
  }
  std::vector<double> fixed_seconds, chosen_seconds;
  for (int r = 0; r < repetitions; ++r) {
    fixed_seconds.push_back(bench::median_seconds(1, [&] {
      sim::Simulation s(fixed, problem.workers, theta0, options);
      bench::keep(s.run().theta);
    }));
    chosen_seconds.push_back(bench::median_seconds(1, [&] {
      runtime::Simulation<> s(chosen, erased, theta0, options);
      bench::keep(s.run().theta);
    }));
  }
  std::sort(fixed_seconds.begin(), fixed_seconds.end());
  std::sort(chosen_seconds.begin(), chosen_seconds.end());
  const double f = fixed_seconds[fixed_seconds.size() / 2];
  const double c = chosen_seconds[chosen_seconds.size() / 2];
  fmt::print(
      "{:<10} {:<10} compile-time {:8.3f} s  runtime {:8.3f} s  ratio {:.3f}  (target "
      "<= 1.05)\n",
      problem.name, label, f, c, c / f);
}

void run_all(const Problem& p, int repetitions) {
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.1), .batch = p.fixed_batch};
  const std::string server = fmt::format("sgd(step=0.1, batch={})", p.batch);
  compare(p, Sgd{.server = sgd}, server, "SGD", repetitions);
  compare(p, LasgWk2{.skip = {.D = 100, .d_max = 10}, .server = sgd},
          "lasg-wk2(D=100, d_max=10) + " + server, "LASG-WK2", repetitions);
  compare(p, Ef21<compress::TopK>{.uplink = {.compressor = {.k = 1}}, .server = sgd},
          "markov(top_k(k=1)) + " + server, "EF21 top-1", repetitions);
}

}  // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 9;
  const char* env = std::getenv("LACONIC_DATA_DIR");
  const std::filesystem::path dir = env && *env ? env : LACONIC_BENCH_DATA_DIR;
  const auto a9a = dir / "a9a" / "a9a";
  if (std::filesystem::exists(a9a)) {
    const auto data = std::make_shared<const data::Dataset>(data::read_libsvm(a9a));
    Problem p{"a9a", {}, 10000, "fraction(0.01)", server::Batch::share(0.01)};
    for (const auto& shard : data::partition(data, {.workers = 10})) {
      p.workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-4});
    }
    run_all(p, repetitions);
  } else {
    fmt::print("a9a: {} not found (set LACONIC_DATA_DIR); skipped\n", a9a.string());
  }
  const auto small = data::make_logistic({.samples = 2000, .features = 50, .seed = 5});
  Problem p{"small", {}, 20000, "1", server::Batch::of(1)};
  for (const auto& shard : data::partition(small.data, {.workers = 20})) {
    p.workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-4});
  }
  run_all(p, repetitions);
}
