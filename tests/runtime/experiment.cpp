#include <laconic/runtime/experiment.hpp>

#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace laconic;

namespace {

using test::experiment_file;
const std::string& minimal = test::minimal_experiment;

// What reading `text` refuses, with the file's name shortened to "exp.toml".
std::string refusal(const std::string& text, const std::vector<std::string>& overrides = {}) {
  const auto path = experiment_file(text);
  try {
    runtime::read_experiment(path, overrides);
  } catch (const ParseError& e) {
    std::string what = e.what();
    const std::string full = path.string();
    if (what.starts_with(full)) what = "exp.toml" + what.substr(full.size());
    return what;
  }
  return "accepted";
}

}  // namespace

TEST_CASE("an experiment file is read into every section, defaults kept", "[runtime]") {
  const auto e = runtime::read_experiment(experiment_file(minimal + R"toml(
[partition]
workers = 4
split = "iid"
seed = 3

[run]
rounds = 25
seeds = [1, 2]
record_every = 5
weighting = "samples"
[run.cost]
latency = 0.5
links = "shared"

[[method]]
label = "EF21"
uplink = "markov(top_k(k=2), start=exact)"
server = { name = "sgd", step = 0.5, batch = 10 }
float_bits = 32
)toml"));
  CHECK(e.name == "exp");
  CHECK(e.output == std::filesystem::path("runs") / "exp");
  CHECK(e.data.format == runtime::DataSpec::Format::synthetic);
  CHECK(e.data.samples == 200);
  CHECK(e.data.features == 5);
  CHECK(e.data.classes == 3);  // a default
  CHECK(e.partition.workers == 4);
  CHECK(e.partition.split == data::Split::iid);
  CHECK(e.partition.seed == 3);
  CHECK(e.options.rounds == 25);
  CHECK(e.options.record_every == 5);
  CHECK(e.options.weighting == sim::Weighting::samples);
  CHECK(e.options.cost.latency == 0.5);
  CHECK(e.options.cost.links == sim::CostModel::Links::shared);
  CHECK(e.options.threads == 1);
  CHECK(e.seeds == std::vector<std::uint64_t>{1, 2});
  REQUIRE(e.methods.size() == 2);
  CHECK(e.methods[0].label == "SGD");
  CHECK(e.methods[1].spec.uplink->written() == "markov(top_k(k=2), start=exact)");
  // toml++ keeps a table's keys in order of their names.
  CHECK(e.methods[1].spec.server->written() == "sgd(batch=10, step=0.5)");
  CHECK(e.methods[1].spec.float_bits->written() == "32");
  CHECK(e.objective.written() == "logistic");
}

TEST_CASE("an override (--set key=value) changes any key of an experiment file", "[runtime]") {
  const auto e =
      runtime::read_experiment(experiment_file(minimal), {"run.rounds=7", "run.seeds=[4, 5, 6]",
                                                          "method.0.spec=lasg-wk2 + sgd",
                                                          "partition.workers=3", "name=other"});
  CHECK(e.options.rounds == 7);
  CHECK(e.seeds == std::vector<std::uint64_t>{4, 5, 6});
  CHECK(e.methods[0].spec.skip->written() == "lasg_wk2");
  CHECK(e.partition.workers == 3);
  CHECK(e.name == "other");
  CHECK(refusal(minimal, {"rounds"}) ==
        "--set rounds:1:1: expected key=value, e.g. run.rounds=100");
  CHECK(refusal(minimal, {"method.3.spec=sgd"}) ==
        "--set method.3.spec=sgd:1:1: method.3.spec: '3' is not an index of an array of 1");
  CHECK_THAT(refusal(minimal, {"run.rounds=-3"}),
             Catch::StartsWith("--set run.rounds=-3:1:12: invalid parameter run.rounds = -3"));
}

TEST_CASE("an experiment file that cannot be used is refused with file, line and key",
          "[runtime]") {
  CHECK(refusal(minimal + "[run]\nrounds = -5\n") ==
        "exp.toml:14:10: invalid parameter run.rounds = -5: must be in 0..2^40");
  CHECK(refusal(minimal + "[run]\nroundz = 5\n") ==
        "exp.toml:14:10: unknown parameter run.roundz: its parameters are seeds, rounds, threads, "
        "record_every, eval_every, weighting, max_loss_growth, stop_after_loss_rises, "
        "target_grad_norm_sq, target_loss_gap, optimal_loss, checkpoint_every, cost, "
        "solve_optimum, solve_tolerance, init");
  CHECK(refusal(minimal + "[run]\nrounds = \"many\"\n") ==
        "exp.toml:14:10: invalid parameter run.rounds = \"many\": must be an integer");
  CHECK(refusal(minimal + "[run]\nseeds = [1, -2]\n") ==
        "exp.toml:14:13: invalid parameter run.seeds[1] = -2: must be an integer in [0, "
        "18446744073709551615]");
  CHECK(refusal(minimal + "[run.cost]\nlinks = \"serial\"\n") ==
        "exp.toml:14:9: invalid parameter run.cost.links = \"serial\": must be one of parallel, "
        "shared");
  CHECK(refusal(minimal + "[partition]\nsplit = \"random\"\n") ==
        "exp.toml:14:9: invalid parameter partition.split = \"random\": must be one of "
        "contiguous, iid, label_skewed, dirichlet");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"B\"\nspec = \"qsgd(levels=0)\"\n") ==
        "exp.toml:15:21: invalid parameter uplink.qsgd.levels = 0: must be in 1..1048576 (2^20)");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"B\"\nserver = { name = \"sgd\", step = -1 }\n") ==
        "exp.toml:15:33: invalid parameter server.step.eta = -1: must be positive and finite");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"SGD\"\n") ==
        "exp.toml:13:1: method label 'SGD' is used twice: each labels its own runs");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"B\"\nspec = \"qsgd\"\nuplink = \"top_k(1)\"\n") ==
        "exp.toml:16:10: method[1]: uplink is given twice");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"B\"\nsepc = \"qsgd\"\n") ==
        "exp.toml:15:8: unknown key method[1].sepc: a method has label, spec, grid, run and the "
        "slots "
        "skip, uplink (up), server, downlink (down), float_bits or paper_index_bits");
  CHECK(refusal("unknown = 1\n" + minimal) ==
        "exp.toml:1:11: unknown key unknown: an experiment has name, output, data, partition, "
        "objective, run and method");
  CHECK(refusal("[objective]\nname = \"logistic\"\n[[method]]\nlabel = \"A\"\n") ==
        "exp.toml:1:1: an experiment needs [data] with its format");
  CHECK(refusal("[data]\nsamples = 3\n") ==
        "exp.toml:1:1: data.format is required: libsvm, csv, idx or synthetic (synthetic data "
        "only when asked)");
  CHECK_THAT(refusal("[data]\nformat = \"libsvm\"\npath = \"nowhere/a9a\"\n"),
             Catch::Matches("exp.toml:3:8: data.path: .*nowhere/a9a does not exist"));
  CHECK(refusal("[data]\nformat = \"libsvm\"\npath = \"${LACONIC_TEST_UNSET_VARIABLE}/a\"\n") ==
        "exp.toml:3:8: data.path: the environment variable LACONIC_TEST_UNSET_VARIABLE in "
        "\"${LACONIC_TEST_UNSET_VARIABLE}/a\" is not set (set it, or give the path itself)");
  CHECK(refusal("[data]\nformat = \"libsvm\"\npath = \"${HOME\"\n") ==
        "exp.toml:3:8: data.path: '${' without its '}' in \"${HOME\"");
  CHECK(refusal("[data]\nformat = \"synthetic\"\ntwo_classes = [3]\n") ==
        "exp.toml:3:15: invalid parameter data.two_classes = [3]: must be two labels [negative, "
        "positive], e.g. [3, 5]");
  CHECK(refusal("[data]\nformat = \"synthetic\"\nrows = -1\n") ==
        "exp.toml:3:8: invalid parameter data.rows = -1: must be >= 0 (0: every row)");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"B\"\nspec = \"sgd\"\nrun = { rounds = -1 }\n") ==
        "exp.toml:16:18: invalid parameter method[1].run.rounds = -1: must be in 0..2^40");
  CHECK(refusal(minimal + "[[method]]\nlabel = \"B\"\nspec = \"sgd\"\nrun = 3\n") ==
        "exp.toml:16:7: invalid parameter method[1].run = 3: must be a table of [run]'s options");
  CHECK(refusal("[data]\nformat = \"libsvm\"\n") ==
        "exp.toml:1:1: data.path is required for format \"libsvm\"");
  // TOML itself, refused by toml++ with where.
  CHECK_THAT(refusal("[data\nformat = 1\n"), Catch::StartsWith("exp.toml:1:6: "));
}

TEST_CASE("data paths name environment variables; a method may change [run]'s options",
          "[runtime]") {
  const auto data = experiment_file("+1 1:0.5\n-1 2:1\n", "tiny.svm");
  ::setenv("LACONIC_TEST_DATA_FOLDER", data.parent_path().c_str(), 1);
  const auto path = experiment_file(R"toml(
[data]
format = "libsvm"
path = "${LACONIC_TEST_DATA_FOLDER}/tiny.svm"
two_classes = [-1, 1]
rows = 1
bias = true

[objective]
name = "logistic"

[run]
rounds = 100
record_every = 10

[[method]]
label = "SGD"
spec = "sgd"

[[method]]
label = "local SGD"
spec = "periodic_average(local_steps=10)"
run = { rounds = 10, record_every = 1 }
)toml");
  const runtime::Experiment e = runtime::read_experiment(path);
  CHECK(e.data.path == data.string());
  CHECK(e.data.two_classes == std::vector<double>{-1, 1});
  CHECK(e.data.rows == 1);
  CHECK(e.data.bias);
  const sim::Options sgd = e.options_of(e.methods[0]), local = e.options_of(e.methods[1]);
  CHECK(sgd.rounds == 100);
  CHECK(sgd.record_every == 10);
  CHECK(local.rounds == 10);
  CHECK(local.record_every == 1);
  ::unsetenv("LACONIC_TEST_DATA_FOLDER");
}

TEST_CASE("[run.cost] sets devices, availability, deadlines; traces are relative to the file",
          "[runtime]") {
  const auto path = experiment_file(minimal + R"toml(
[run.cost]
shift = 0.01
deadline = 2.5
keep = 3
[run.cost.devices]
trace = "fleet/devices.csv"
[run.cost.availability]
period = 24
online = 0.25

[[method]]
label = "lognormal"
spec = "sgd"
run = { cost = { devices = { compute_sigma = 1.5, trace = "" } } }
)toml");
  const runtime::Experiment e = runtime::read_experiment(path);
  const sim::Options o = e.options_of(e.methods[0]);
  CHECK(o.cost.deadline == 2.5);
  CHECK(o.cost.keep == 3);
  CHECK(o.cost.availability.period == 24);
  CHECK(o.cost.availability.online == 0.25);
  CHECK(o.cost.devices.trace == (path.parent_path() / "fleet/devices.csv").string());
  // A method's own run table changes what it gives: its devices are log-normal.
  const sim::Options lognormal = e.options_of(e.methods[1]);
  CHECK(lognormal.cost.devices.compute_sigma == 1.5);
  CHECK(lognormal.cost.deadline == 2.5);
  CHECK(refusal(minimal + "[run.cost.availability]\nonline = 2\n") ==
        "exp.toml:14:10: invalid parameter run.cost.availability.online = 2: must be in (0, 1]");
  CHECK(refusal(minimal + "[run.cost]\nlinks = \"shared\"\nkeep = 2\n") ==
        "exp.toml:14:9: invalid parameter run.cost.links = shared: must be parallel under a "
        "deadline or over-selection (on one shared link the order of the uploads would decide "
        "who is late, which the model does not say)");
}
