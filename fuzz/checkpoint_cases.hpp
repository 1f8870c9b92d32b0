#pragma once

// The small simulations fuzz_checkpoint loads into, shared with the seed generator: a few
// workers on a tiny synthetic logistic problem, for a handful of methods that between them
// hold every kind of policy state (a LASG window and stale points, Markov channels both
// ways, AMSGrad moments, sampled participation with local steps, LAQ's quantized
// innovations).

#include <laconic/compress/top_k.hpp>
#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>
#include <laconic/methods.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/sim/simulation.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace laconic::fuzz {

// One simulation, whatever its method.
class Run {
 public:
  virtual ~Run() = default;
  virtual std::string describe() const = 0;
  virtual void save(const std::filesystem::path& path) const = 0;
  virtual void load(const std::filesystem::path& path) = 0;
  virtual sim::RunResult run() = 0;
};

template <class M>
class RunOf final : public Run {
 public:
  RunOf(const M& method, std::vector<objective::Logistic> workers, Index dim, Index rounds)
      : sim_(method, std::move(workers), Vector::Zero(dim), {.seed = 5, .rounds = rounds}) {}
  std::string describe() const override { return sim_.describe(); }
  void save(const std::filesystem::path& path) const override { sim_.save(path); }
  void load(const std::filesystem::path& path) override { sim_.load(path); }
  sim::RunResult run() override { return sim_.run(); }

 private:
  sim::Simulation<M, objective::Logistic> sim_;
};

inline constexpr int checkpoint_methods = 5;

// Method number `method` (modulo checkpoint_methods), running `rounds` rounds per run().
inline std::unique_ptr<Run> make_run(int method, Index rounds) {
  constexpr Index workers = 3, samples = 48, dim = 4;
  const auto problem = data::make_logistic({.samples = samples, .features = dim, .seed = 11});
  std::vector<objective::Logistic> objectives;
  for (const data::Shard& shard : data::partition(problem.data, {.workers = workers})) {
    objectives.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  }
  const auto step = server::StepSize::constant(0.3);
  const auto batch = server::Batch::of(4);
  const auto make = [&](const auto& m) -> std::unique_ptr<Run> {
    return std::make_unique<RunOf<std::decay_t<decltype(m)>>>(m, objectives, dim, rounds);
  };
  switch (method % checkpoint_methods) {
    case 0:
      return make(LasgWk2{.skip = {.D = 3}, .server = {.step = step, .batch = batch}});
    case 1:
      return make(
          Ef21<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = {.step = step}});
    case 2:
      return make(CdAdam<>{.server = {.step = server::StepSize::constant(0.01)}});
    case 3:
      return make(FedPaq{.uplink = {.levels = 1},
                         .server = {.step = step,
                                    .batch = batch,
                                    .local_steps = 2,
                                    .participation = server::Participation::sample(2)}});
    default:
      return make(Laq{.server = {.step = step}});
  }
}

}  // namespace laconic::fuzz
