// laconic's main example: logistic regression on synthetic data split across 10 workers,
// trained by distributed GD, SGD, QSGD-compressed SGD and EF21 with top-k. Prints what each
// method cost in communication and writes each history as CSV. New methods join by adding a
// line to `methods` below.
//
//   quickstart [--rounds N] [--threads T] [--out-dir DIR]

#include <laconic/laconic.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace laconic;

constexpr Index workers = 10, train_per_worker = 500, test_samples = 1000, features = 50;

struct Arguments {
  Index rounds = 300;
  int threads = 1;
  std::filesystem::path out_dir = "quickstart";
};

[[noreturn]] void usage(std::string_view problem) {
  fmt::print(stderr,
             "quickstart: {}\nusage: quickstart [--rounds N] [--threads T] [--out-dir DIR]\n",
             problem);
  std::exit(2);
}

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    usage(fmt::format("{} expects a whole number, got '{}'", flag, text));
  }
  return value;
}

Arguments parse(int argc, char** argv) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 == argc) usage(fmt::format("unknown argument or missing value: {}", flag));
    const std::string_view value = argv[++i];
    if (flag == "--rounds") {
      args.rounds = parse_number<Index>(flag, value);
    } else if (flag == "--threads") {
      args.threads = parse_number<int>(flag, value);
    } else if (flag == "--out-dir") {
      args.out_dir = value;
    } else {
      usage(fmt::format("unknown argument {}", flag));
    }
  }
  return args;
}

// What every method is run on.
struct Problem {
  std::vector<objective::Logistic> workers{};
  double smoothness = 0;  // the largest L_m: 1/L is a safe constant step
  sim::Options options{};
};

struct Entry {
  std::string id;  // names the CSV file
  std::string name;
  std::function<sim::RunResult(const Problem&)> run;
};

template <class M>
Entry entry(std::string id, std::string name, M method) {
  return {id, name, [name, method](const Problem& problem) {
            sim::Options options = problem.options;
            options.label = name;
            sim::Simulation simulation(method, problem.workers,
                                       Vector::Zero(problem.workers.front().dim()), options);
            return simulation.run();
          }};
}

}  // namespace

int main(int argc, char** argv) try {
  const Arguments args = parse(argc, argv);

  // One synthetic set: the first rows are the workers' training data, the rest a test set.
  const auto synthetic = data::make_logistic(
      {.samples = workers * train_per_worker + test_samples, .features = features, .seed = 1});
  Problem problem{.options = {.seed = 7,
                              .rounds = args.rounds,
                              .threads = args.threads,
                              .record_every = 10,
                              .eval_every = 10}};
  for (Index m = 0; m < workers; ++m) {
    problem.workers.emplace_back(
        data::Shard{synthetic.data, m * train_per_worker, (m + 1) * train_per_worker},
        objective::Logistic::Params{.lambda = 1e-3});
    problem.smoothness = std::max(problem.smoothness, problem.workers.back().smoothness());
  }
  const objective::Logistic test(
      data::Shard{synthetic.data, workers * train_per_worker, synthetic.data->rows()});
  problem.options.test_accuracy = [&test](const Vector& theta) { return test.accuracy(theta); };

  const double eta = 1 / problem.smoothness;
  const std::vector<Entry> methods = {
      entry("gd", "GD", Gd{.server = {.step = server::StepSize::constant(eta)}}),
      entry("sgd", "SGD, batch 16",
            Sgd{.server = {.step = server::StepSize::inverse_time(eta, 100),
                           .batch = server::Batch::of(16)}}),
      entry(
          "qsgd", "QSGD s=4, batch 16",
          CompressedSgd<compress::Qsgd>{.uplink = {.levels = 4},
                                        .server = {.step = server::StepSize::inverse_time(eta, 100),
                                                   .batch = server::Batch::of(16)}}),
      entry("ef21", "EF21 top-5",
            Ef21<compress::TopK>{.uplink = {.compressor = {.k = 5}},
                                 .server = {.step = server::StepSize::constant(eta / 2)}}),
  };

  fmt::print("logistic regression, {} workers x {} samples, {} features, {} rounds\n\n", workers,
             train_per_worker, features, args.rounds);
  fmt::print("{:<20} {:>10} {:>10} {:>9} {:>8} {:>9} {:>10} {:>8}\n", "method", "loss", "|grad|^2",
             "test acc", "uploads", "Mbit up", "Mbit down", "time s");
  std::filesystem::create_directories(args.out_dir);
  for (const Entry& method : methods) {
    const sim::RunResult result = method.run(problem);
    const sim::Record& last = result.history.rows.back();
    const Traffic& total = result.ledger.total();
    fmt::print("{:<20} {:>10.6f} {:>10.2e} {:>9.3f} {:>8} {:>9.2f} {:>10.2f} {:>8.3f}\n",
               method.name, last.loss, last.grad_norm_sq, test.accuracy(result.theta),
               total.uploads, static_cast<double>(total.up.total()) / 1e6,
               static_cast<double>(total.down.total()) / 1e6, result.wall_seconds);
    if (result.status != sim::Status::completed) fmt::print("  {}\n", result.message);

    result.history.write_csv(args.out_dir / (method.id + ".csv"));
  }
  fmt::print("\nhistories written to {}/\n", args.out_dir.string());
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "quickstart: {}\n", error.what());
  return 1;
}
