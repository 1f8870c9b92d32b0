// The runner with LibTorch: an experiment file that names a network (objective::Network).

#include <laconic/data/io.hpp>
#include <laconic/runtime/runner.hpp>

#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"

#include <filesystem>
#include <string>
#include <vector>

using namespace laconic;
namespace fs = std::filesystem;

TEST_CASE("an experiment file names a network: its own θ⁰, the C++ run, held-out accuracy",
          "[runtime][torch][network]") {
  auto e = runtime::read_experiment(test::experiment_file(R"toml(
[data]
format = "synthetic"
generator = "multiclass"
samples = 400
features = 16
classes = 3
seed = 4
test_fraction = 0.25

[partition]
workers = 4

[objective]
name = "network"
hidden = [8]
weight_decay = 1e-4

[run]
rounds = 300
record_every = 100
seeds = [1]

[[method]]
label = "LASG-WK2"
spec = "lasg_wk2(D=10, d_max=5) + sgd(step=0.5, batch=8)"
)toml",
                                                          "network.toml"));
  e.output = e.file.parent_path() / "network";
  fs::remove_all(e.output);
  const nlohmann::json resolved = runtime::run_experiment(e, {.print = [](const std::string&) {}});
  CHECK(resolved["init"] == "objective");  // "auto" resolved: the network's own θ⁰

  // The run of the same network, method and seed through the C++ API, from initial_point(1).
  const runtime::PreparedData prepared = runtime::prepare_data(e);
  const objective::Network::Params params{.hidden = {8}, .weight_decay = 1e-4};
  std::vector<runtime::Objective> workers;
  for (const auto& shard : data::partition(prepared.train, e.partition)) {
    workers.emplace_back(objective::Network(shard, params));
  }
  const objective::Network first(data::partition(prepared.train, e.partition).front(), params);
  const objective::Network test(data::whole(prepared.test), params);
  sim::Options options = e.options;
  options.seed = 1;
  options.label = "LASG-WK2";
  options.test_accuracy = [&](const Vector& theta) { return test.accuracy(theta); };
  const runtime::PlannedRun run = runtime::plan_runs(e).front();
  runtime::Simulation<> simulation(runtime::build_method(run.spec), workers, first.initial_point(1),
                                   options);
  const sim::RunResult r = simulation.run();
  CHECK(data::read_file(e.output / "runs" / (run.name + ".csv")) == r.history.to_csv());
  CHECK(r.history.rows.back().test_accuracy >= 0.6);  // chance: 1/3
}
