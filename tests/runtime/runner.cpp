#include <laconic/data/io.hpp>
#include <laconic/runtime/runner.hpp>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace laconic;
namespace fs = std::filesystem;

namespace {

const std::string experiment_text = R"toml(
[data]
format = "synthetic"
samples = 300
features = 6
seed = 2
test_fraction = 0.2
scale = "standardize"

[partition]
workers = 4
split = "iid"

[objective]
name = "logistic"
lambda = 1e-3

[run]
rounds = 40
seeds = [1, 2]
record_every = 5
checkpoint_every = 10

[[method]]
label = "SGD"
spec = "sgd(step=0.5, batch=10)"

[[method]]
label = "LASG-WK2"
spec = "lasg-wk2(D=10, d_max=5) + qsgd(7) + sgd(step=0.5, batch=10)"
grid = { "skip.c" = [50, 100] }
)toml";

// The experiment above, to run into `folder` with `overrides`.
runtime::Experiment experiment(const std::string& folder,
                               const std::vector<std::string>& overrides = {}) {
  const fs::path file = test::experiment_file(experiment_text);
  runtime::Experiment e = runtime::read_experiment(file, overrides);
  e.output = file.parent_path() / folder;
  fs::remove_all(e.output);
  return e;
}

const runtime::RunnerOptions quiet{.print = [](const std::string&) {}};

using test::experiment_file;
const std::string& minimal = test::minimal_experiment;

}  // namespace

TEST_CASE("laconic-run's runner writes one run folder, each run the C++ run", "[runtime]") {
  const runtime::Experiment e = experiment("whole");
  const nlohmann::json resolved = runtime::run_experiment(e, quiet);
  const auto runs = runtime::plan_runs(e);
  REQUIRE(runs.size() == 6);

  // experiment.json: what ran, resolved.
  const auto saved = nlohmann::json::parse(data::read_file(e.output / "experiment.json"));
  CHECK(saved.dump() == resolved.dump());  // NaN (no f*) is written as null
  CHECK(saved["text"] == experiment_text);
  CHECK(saved["run"]["rounds"] == 40);
  CHECK(saved["run"]["cost"]["links"] == "parallel");  // defaults written out
  CHECK(saved["shape"]["train_rows"] == 240);
  CHECK(saved["shape"]["test_rows"] == 60);
  CHECK(saved["runs"].size() == 6);
  CHECK(saved["runs"][2]["method"] == "LASG-WK2 (skip.c=50)");

  // Each run's History: the run of the same method, data and seed through the C++ API.
  const runtime::PreparedData prepared = runtime::prepare_data(e);
  std::vector<runtime::Objective> workers;
  for (const auto& shard : data::partition(prepared.train, e.partition)) {
    workers.emplace_back(objective::Logistic(shard, {.lambda = 1e-3}));
  }
  const objective::Logistic test(data::whole(prepared.test), {.lambda = 1e-3});
  for (const runtime::PlannedRun& run : runs) {
    INFO(run.name);
    sim::Options options = e.options;
    options.seed = run.seed;
    options.label = run.label;
    options.checkpoint_every = 0;
    options.test_accuracy = [&](const Vector& theta) { return test.accuracy(theta); };
    runtime::Simulation<> simulation(runtime::build_method(run.spec), workers, Vector::Zero(6),
                                     options);
    const sim::RunResult r = simulation.run();
    CHECK(data::read_file(e.output / "runs" / (run.name + ".csv")) == r.history.to_csv());
  }
  const std::string summary = data::read_file(e.output / "summary.csv");
  CHECK(std::count(summary.begin(), summary.end(), '\n') == 7);
  CHECK_THAT(summary, Catch::Contains("\nSGD__seed1,SGD,1,completed,40,"));
  CHECK_THAT(summary, Catch::Contains(",LASG-WK2 (skip.c=100),2,completed,40,"));
}

TEST_CASE(
    "an interrupted experiment resumes: finished runs skipped, the others from their "
    "checkpoints",
    "[runtime]") {
  const runtime::Experiment whole = experiment("resume_whole");
  runtime::run_experiment(whole, quiet);

  // The same experiment stopped after 20 of its 40 rounds, then run again in full.
  const runtime::Experiment half = experiment("resume_half", {"run.rounds=20"});
  runtime::run_experiment(half, quiet);
  runtime::Experiment rest = half;
  rest.options.rounds = 40;
  runtime::run_experiment(rest, quiet);
  for (const runtime::PlannedRun& run : runtime::plan_runs(whole)) {
    INFO(run.name);
    CHECK(data::read_file(half.output / "runs" / (run.name + ".csv")) ==
          data::read_file(whole.output / "runs" / (run.name + ".csv")));
  }

  // Run again: every run is done, none is run or rewritten.
  const fs::path history = whole.output / "runs" / "SGD__seed1.csv";
  const auto written = fs::last_write_time(history);
  runtime::run_experiment(whole, quiet);
  CHECK(fs::last_write_time(history) == written);

  // Another experiment in the same folder is refused rather than mixed.
  runtime::Experiment other = whole;
  other.methods[0].spec = runtime::parse_method("sgd(step=0.25, batch=10)", {"test"});
  CHECK_THROWS_WITH(runtime::run_experiment(other, quiet),
                    Catch::Contains("holds run SGD__seed1 of another experiment"));
}

TEST_CASE("a dry run checks and resolves everything and writes nothing", "[runtime]") {
  runtime::Experiment e = experiment("dry");
  runtime::RunnerOptions dry = quiet;
  dry.dry_run = true;
  const nlohmann::json resolved = runtime::run_experiment(e, dry);
  CHECK(resolved["runs"].size() == 6);
  CHECK_THAT(resolved["runs"][0]["description"].get<std::string>(),
             Catch::StartsWith("laconic 0.1.0; label=SGD; skip=never; uplink=identity(fp64); "
                               "server=sgd(step=constant(eta=0.5), batch=10, participation=all)"));
  CHECK_FALSE(fs::exists(e.output));
}

TEST_CASE("every name a specification may use is listed with its defaults", "[runtime]") {
  const std::string list = runtime::list_names();
  CHECK_THAT(list, Catch::Contains("  lasg_wk2(D=100, d_max=10, c=auto, c_eta2=auto)\n"));
  CHECK_THAT(list, Catch::Contains("  qsgd(levels=1, encoding=cheaper)\n      encoding: fixed, "
                                   "elias, cheaper, elias_gamma\n"));
  CHECK_THAT(list, Catch::Contains("  sgd(step=constant(eta=0.1), batch=full, participation=all)\n"
                                   "      step: constant(eta), inverse_time(eta, k0), "
                                   "strongly_convex(mu, K0)\n"));
  CHECK_THAT(list, Catch::Contains("  logistic(lambda=0, regularizer=l2)\n"));
}

TEST_CASE("a method's grid runs every combination of its values, seed by seed", "[runtime]") {
  const auto e = runtime::read_experiment(experiment_file(minimal + R"toml(
[run]
seeds = [1, 2]

[[method]]
label = "LASG"
spec = "lasg-wk2(D=10) + sgd(step=0.5)"
grid = { "server.step" = [0.1, 0.2], "skip.d_max" = [2, 4, 8] }

[[method]]
label = "Q"
grid = { "uplink" = ["qsgd(1)", "top_k(k=2)"], "float_bits" = [32] }
)toml"));
  const auto runs = runtime::plan_runs(e);
  REQUIRE(runs.size() == 2 + 2 * 3 * 2 + 2 * 2);
  CHECK(runs[0].name == "SGD__seed1");
  CHECK(runs[1].name == "SGD__seed2");
  CHECK(runs[2].label == "LASG (server.step=0.1, skip.d_max=2)");
  CHECK(runs[2].spec.server->written() == "sgd(step=0.1)");
  CHECK(runs[2].spec.skip->written() == "lasg_wk2(D=10, d_max=2)");
  CHECK(runs[4].label == "LASG (server.step=0.1, skip.d_max=4)");
  CHECK(runs[8].label == "LASG (server.step=0.2, skip.d_max=2)");
  CHECK(runs[13].name == "LASG__server.step=0.2__skip.d_max=8__seed2");
  CHECK(runs[14].spec.uplink->written() == "qsgd(1)");
  CHECK_FALSE(runs[14].spec.server);  // a slot left out: its default
  CHECK(runs[16].spec.uplink->written() == "top_k(k=2)");
  CHECK(runs[16].spec.float_bits->written() == "32");
}

TEST_CASE("runs' file names keep non-ASCII labels apart and refuse a collision", "[runtime]") {
  const auto two = [](const std::string& a, const std::string& b) {
    return runtime::read_experiment(experiment_file(
        minimal + fmt::format("[[method]]\nlabel = \"{}\"\n\n[[method]]\nlabel = \"{}\"\n", a, b)));
  };
  const auto runs = runtime::plan_runs(two("c = 10⁻²/η²", "c = 10⁻⁴/η²"));
  CHECK(runs[1].name == "c_=_10⁻²_η²__seed0");
  CHECK(runs[2].name == "c_=_10⁻⁴_η²__seed0");
  CHECK_THROWS_WITH(runtime::plan_runs(two("a b", "a/b")),
                    Catch::EndsWith("exp.toml:16:1: runs 'a b' and 'a/b' would share the file name "
                                    "a_b__seed0: give the methods labels that differ in more than "
                                    "spaces and punctuation"));
}

TEST_CASE("what an experiment's data and methods refuse is refused before any run", "[runtime]") {
  // top_k(k=9) is only known to be wrong once the data's width (5) is known.
  const auto path = experiment_file(minimal + "[[method]]\nlabel = \"B\"\nspec = \"top_k(k=9)\"\n");
  auto e = runtime::read_experiment(path);
  e.output = path.parent_path() / "refused";
  std::filesystem::remove_all(e.output);
  std::string what;
  try {
    runtime::run_experiment(e, {.print = [](const std::string&) {}});
  } catch (const ParseError& error) {
    what = error.what();
  }
  CHECK_THAT(what,
             Catch::EndsWith("exp.toml:15:17: B: invalid parameter uplink.top_k.k = 9: must be at "
                             "most the dimension p = 5"));
  CHECK_FALSE(std::filesystem::exists(e.output));  // nothing ran, nothing was written
}

TEST_CASE("init = objective needs an objective with an initial point of its own", "[runtime]") {
  auto e = runtime::read_experiment(experiment_file(minimal), {"run.init=objective"});
  e.output = e.file.parent_path() / "init";
  CHECK_THROWS_WITH(runtime::run_experiment(e, {.dry_run = true}),
                    Catch::Contains("exp.toml:") && Catch::Contains("run.init = \"objective\"") &&
                        Catch::Contains("logistic") && Catch::Contains("no initial point"));
  // Left to "auto", a linear objective starts from zero.
  e = runtime::read_experiment(experiment_file(minimal));
  CHECK(runtime::run_experiment(e, {.dry_run = true})["init"] == "zero");
}

TEST_CASE("the data's steps run in order: two classes, first rows, held out, scaled, bias",
          "[runtime]") {
  const auto e = runtime::read_experiment(experiment_file(R"toml(
[data]
format = "synthetic"
generator = "multiclass"
samples = 300
features = 4
classes = 3
two_classes = [0, 2]
rows = 50
test_fraction = 0.2
scale = "standardize"
bias = true

[objective]
name = "logistic"

[[method]]
label = "SGD"
spec = "sgd"
)toml"));
  const runtime::PreparedData prepared = runtime::prepare_data(e);
  REQUIRE(prepared.train->rows() == 40);
  REQUIRE(prepared.test->rows() == 10);
  for (const auto* set : {prepared.train.get(), prepared.test.get()}) {
    CHECK(set->task() == data::Task::binary);
    CHECK(set->cols() == 5);
    CHECK((set->dense().col(4).array() == 1).all());  // the bias, after scaling
    CHECK((set->labels().array().abs() == 1).all());
  }
  // Standardized on the training rows: mean 0 in every feature but the bias.
  CHECK(prepared.train->dense().leftCols(4).colwise().mean().cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("a method's own run options: local SGD's fewer rounds", "[runtime]") {
  auto e = runtime::read_experiment(experiment_file(minimal + R"toml(
[run]
rounds = 30
record_every = 10

[[method]]
label = "local SGD"
spec = "periodic_average(step=0.5, local_steps=10)"
run = { rounds = 3, record_every = 1 }
)toml"));
  e.output = e.file.parent_path() / "own_options";
  fs::remove_all(e.output);
  runtime::run_experiment(e, quiet);
  const std::string summary = data::read_file(e.output / "summary.csv");
  CHECK_THAT(summary, Catch::Contains("SGD__seed0,SGD,0,completed,30,"));
  CHECK_THAT(summary, Catch::Contains("local_SGD__seed0,local SGD,0,completed,3,"));
  const std::string json = data::read_file(e.output / "experiment.json");
  CHECK_THAT(
      json,
      Catch::Matches(R"((.|\n)*"options": \{(.|\n)*"record_every": 1,(.|\n)*"rounds": 3,(.|\n)*)"));
  fs::remove_all(e.output);
}

TEST_CASE("solve_optimum finds f* for the runs' targets; init = normal draws θ⁰ per seed",
          "[runtime]") {
  auto e = runtime::read_experiment(experiment_file(R"toml(
[data]
format = "synthetic"
samples = 200
features = 5

[partition]
workers = 4

[objective]
name = "logistic"
lambda = 0.1

[run]
rounds = 500
seeds = [1, 2]
solve_optimum = true
target_loss_gap = 1e-8
init = "normal"

[[method]]
label = "GD"
spec = "sgd(step=1)"
)toml"));
  e.output = e.file.parent_path() / "optimum";
  fs::remove_all(e.output);
  const nlohmann::json resolved = runtime::run_experiment(e, quiet);
  // The same f* as the reference solver on the same workers, certified.
  const auto data = runtime::prepare_data(e);
  std::vector<objective::Logistic> workers;
  for (const auto& shard : data::partition(data.train, e.partition)) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 0.1});
  }
  const sim::Reference reference = sim::reference_minimum(workers, 5, 0.1, 1.0, 1);
  const double f_star = resolved["optimal_loss"]["value"];
  CHECK(f_star == Approx(reference.minimum).margin(1e-11));
  CHECK(resolved["optimal_loss"]["bound"].get<double>() <= 1e-12);
  // Both seeds reach the gap before the last round, each from its own θ⁰ ~ N(0, I).
  const std::string summary = data::read_file(e.output / "summary.csv");
  CHECK_THAT(summary, Catch::Contains("GD__seed1,GD,1,reached,"));
  CHECK_THAT(summary, Catch::Contains("GD__seed2,GD,2,reached,"));
  const auto first_loss = [&](int seed) {
    const std::string csv =
        data::read_file(e.output / "runs" / fmt::format("GD__seed{}.csv", seed));
    const std::size_t row = csv.find("\n0,", csv.find("round,"));
    return std::stod(csv.substr(row + 3));
  };
  CHECK(first_loss(1) != first_loss(2));
  CHECK(first_loss(1) > std::log(2.0));  // θ⁰ = 0 would give log 2 for every seed
  // The folder holds runs from drawn θ⁰: the same experiment from θ⁰ = 0 is another one.
  e.init = runtime::Experiment::Init::zero;
  CHECK_THROWS_WITH(runtime::run_experiment(e, quiet),
                    Catch::Contains("holds run GD__seed1 of another experiment"));
  fs::remove_all(e.output);

  // f* is certified by strong convexity: λ = 0 is refused at the objective.
  auto flat = runtime::read_experiment(
      experiment_file(minimal + "[run]\nsolve_optimum = true\n", "flat.toml"));
  flat.output = flat.file.parent_path() / "flat";
  CHECK_THROWS_WITH(runtime::run_experiment(flat, quiet),
                    Catch::EndsWith("flat.toml:7:1: run.solve_optimum needs a strongly convex "
                                    "objective, and logistic is not: lambda > 0 with the l2 "
                                    "regularizer (f* is certified by strong convexity)"));
}
