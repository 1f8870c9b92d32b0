#pragma once

// A simulation of a method chosen at run time (runtime/method.hpp): sim::Simulation of the
// compile-time method that runs the choice, behind one type. Its run, History, ledger,
// description and checkpoints are those of the compile-time composition with the same
// parameters and seed, byte for byte — a checkpoint of either resumes in the other.
//
//   runtime::Simulation<> run(method, std::move(workers), theta0, {.seed = 1, .rounds = 500});
//   const sim::RunResult result = run.run();

#include <laconic/core/concepts.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/types.hpp>
#include <laconic/runtime/method.hpp>
#include <laconic/runtime/objective.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/run.hpp>
#include <laconic/sim/simulation.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::runtime {

// Obj: the workers' objective type; runtime::Objective takes any.
template <laconic::Objective Obj = Objective>
class Simulation {
 public:
  // Builds and checks the run as sim::Simulation does; throws ParamError naming any invalid
  // parameter by its path, an unlawful composition included (runtime::visit). It compiles
  // all seven compositions; see LACONIC_RUNTIME_SIMULATION_EXTERN below.
  Simulation(const Method& method, std::vector<Obj> workers, Vector theta0,
             sim::Options options = {});

  std::string describe() const { return run_->describe(); }
  sim::RunResult run(const sim::Callback& on_round = {}) { return run_->run(on_round); }
  sim::RunResult run_until(Index end, const sim::Callback& on_round = {}) {
    return run_->run_until(end, on_round);
  }
  void save(const std::filesystem::path& path) const { run_->save(path); }
  void load(const std::filesystem::path& path) { run_->load(path); }

  Index round() const { return run_->round(); }
  const std::vector<std::string>& warnings() const { return run_->warnings(); }
  const Vector& theta() const { return run_->theta(); }
  const Ledger& ledger() const { return run_->ledger(); }
  const sim::History& history() const { return run_->history(); }
  const std::vector<Obj>& workers() const { return run_->workers(); }

 private:
  struct Run {
    virtual ~Run() = default;
    virtual std::string describe() const = 0;
    virtual sim::RunResult run(const sim::Callback& on_round) = 0;
    virtual sim::RunResult run_until(Index end, const sim::Callback& on_round) = 0;
    virtual void save(const std::filesystem::path& path) const = 0;
    virtual void load(const std::filesystem::path& path) = 0;
    virtual Index round() const = 0;
    virtual const std::vector<std::string>& warnings() const = 0;
    virtual const Vector& theta() const = 0;
    virtual const Ledger& ledger() const = 0;
    virtual const sim::History& history() const = 0;
    virtual const std::vector<Obj>& workers() const = 0;
  };

  template <class M>
  struct RunOf final : Run {
    RunOf(const M& method, std::vector<Obj> workers, Vector theta0, sim::Options options)
        : simulation(method, std::move(workers), std::move(theta0), std::move(options)) {}
    std::string describe() const override { return simulation.describe(); }
    sim::RunResult run(const sim::Callback& on_round) override { return simulation.run(on_round); }
    sim::RunResult run_until(Index end, const sim::Callback& on_round) override {
      return simulation.run_until(end, on_round);
    }
    void save(const std::filesystem::path& path) const override { simulation.save(path); }
    void load(const std::filesystem::path& path) override { simulation.load(path); }
    Index round() const override { return simulation.round(); }
    const std::vector<std::string>& warnings() const override { return simulation.warnings(); }
    const Vector& theta() const override { return simulation.theta(); }
    const Ledger& ledger() const override { return simulation.ledger(); }
    const sim::History& history() const override { return simulation.history(); }
    const std::vector<Obj>& workers() const override { return simulation.workers(); }

    sim::Simulation<M, Obj> simulation;
  };

  std::unique_ptr<Run> run_;
};

template <laconic::Objective Obj>
Simulation<Obj>::Simulation(const Method& method, std::vector<Obj> workers, Vector theta0,
                            sim::Options options)
    : run_(visit(method, [&]<class M>(const M& fixed) -> std::unique_ptr<Run> {
        return std::make_unique<RunOf<M>>(fixed, std::move(workers), std::move(theta0),
                                          std::move(options));
      })) {}

// A program of many files may compile the seven compositions of Simulation<> once: define
// LACONIC_RUNTIME_SIMULATION_EXTERN in all of them, and in one file write
//   template class laconic::runtime::Simulation<laconic::runtime::Objective>;
#ifdef LACONIC_RUNTIME_SIMULATION_EXTERN
extern template class Simulation<Objective>;
#endif

}  // namespace laconic::runtime
