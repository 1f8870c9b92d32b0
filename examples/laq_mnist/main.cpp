// LAQ (Sun, Chen, Giannakis, Yang, NeurIPS 2019) on MNIST: multinomial logistic regression
// (softmax with a bias, p = 10 · 785 = 7850) across M = 10 workers, λ = 0.01, full local
// gradients, the LAQ code's settings: α = 0.02 in the papers' sum convention, which is
// η = α·M = 0.2 on our average objective; b = 4 bits, D = 10, ξ = 0.8/D, t̄ = 100. GD, QGD
// (LAQ's 4-bit quantized innovation, uploaded every round), LAG-WK and LAQ are compared by
// the rounds, uploads and bits they need to bring the loss within 1e-6 of its minimum f*,
// which an accelerated reference solver finds first. docs/experiments/laq.md discusses the
// results.
//
// Data: by default the MNIST test set (10000 images, ../shared/data/mnist), the only MNIST
// here, while the paper used the 60000 training images. To keep the default run under a
// minute the workers share the first 2000 images, 200 each (--per-worker 1000 uses all
// 10000), the loss is recorded every 10 rounds, and each method stops once it reaches the
// target. --paper runs the paper's size instead: Fashion-MNIST's 60000 training images
// (Debian: apt-get install dataset-fashion-mnist), 6000 per worker, up to 4000 rounds. The
// links carry exact 64-bit floats (the library's default); --float-bits 32 sends the paper's
// 32-bit floats (GD's gradients and the quantizer's radius) instead.
//
//   laq_mnist [--rounds N] [--threads T] [--out-dir DIR] [--data-dir DIR] [--per-worker N]
//             [--dataset mnist|fashion] [--paper] [--laq-error-weight W] [--bits B]
//             [--float-bits 32|64]

#include <laconic/laconic.hpp>

#include "common/cli.hpp"
#include "common/data.hpp"
#include "common/experiment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace laconic;
using examples::Entry;
using examples::entry;
using Softmax = objective::Softmax;

constexpr Index workers = 10, classes = 10;
constexpr double lambda = 0.01;
constexpr double alpha = 0.02;                 // the LAQ code's step on the sum of worker losses
constexpr double step = alpha * workers;       // the same step on their average
constexpr double target_gap = 1e-6;            // LAQ's stopping rule: f − f* < 1e-6
constexpr double reference_tolerance = 1e-12;  // how close f* must be certified
// Where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
const std::filesystem::path fashion_dir = "/usr/share/datasets/fashion-mnist";

struct Arguments {
  Index rounds = 3000;
  int threads = 2;
  std::filesystem::path out_dir = "laq_mnist";
  std::filesystem::path data_dir{};
  Index per_worker = 200;
  std::string dataset = "mnist";
  bool paper = false;
  double laq_error_weight = 3;  // the 3 of (7a) in front of the quantization errors
  int bits = 4;                 // b of QGD's and LAQ's quantizer
  int float_bits = 64;          // of every float on every link
};

// The images and labels files of the chosen dataset.
struct Files {
  std::string name;
  std::filesystem::path images, labels;
};

Files files(const Arguments& args) {
  if (args.dataset == "fashion") {
    return {"Fashion-MNIST (training set)", fashion_dir / "train-images-idx3-ubyte.gz",
            fashion_dir / "train-labels-idx1-ubyte.gz"};
  }
  const std::filesystem::path dir = examples::data_dir(args.data_dir) / "mnist";
  return {"MNIST (test set)", dir / "t10k-images-idx3-ubyte.gz", dir / "t10k-labels-idx1-ubyte.gz"};
}

}  // namespace

int main(int argc, char** argv) try {
  Arguments args;
  examples::Cli cli(
      "laq_mnist",
      "LAQ's MNIST experiments (Sun, Chen, Giannakis, Yang 2019) (docs/experiments/laq.md)");
  cli.add("--rounds", args.rounds);
  cli.add("--threads", args.threads);
  cli.add("--out-dir", args.out_dir);
  cli.add("--data-dir", args.data_dir);
  cli.add("--per-worker", args.per_worker);
  cli.add("--dataset", args.dataset, {"mnist", "fashion"});
  cli.add_switch("--paper", args.paper);
  cli.add("--laq-error-weight", args.laq_error_weight);
  cli.add("--bits", args.bits);
  cli.add("--float-bits", args.float_bits, {32, 64});
  cli.parse(argc, argv);
  if (args.paper) {  // the LAQ code: 6000 training images per worker, 4000 iterations
    args.dataset = "fashion";
    args.per_worker = 6000;
    args.rounds = 4000;
  }
  if (args.per_worker < 1) cli.usage("--per-worker must be at least 1");

  const Files source = files(args);
  const Index wanted = workers * args.per_worker;
  const examples::Loaded loaded = examples::load_or_stand_in(
      source.name, {source.images, source.labels},
      [&] {
        return data::with_bias(
            data::first_rows(data::read_mnist(source.images, source.labels), wanted));
      },
      // Pixel-like scale: MNIST rows have ‖a‖² ≈ 100 over 784 pixels.
      [&] {
        return data::with_bias(
            examples::synthetic_multiclass(std::min<Index>(wanted, 10000), 784, classes, 0.35));
      });
  const auto& data = loaded.data;
  if (data->rows() < wanted) {
    fmt::print("{}: only {} images, so {} per worker\n", source.name, data->rows(),
               data->rows() / workers);
  }

  examples::Problem<Softmax> problem{
      .options = {.seed = 1, .rounds = args.rounds, .threads = args.threads, .record_every = 10},
      .float_bits = args.float_bits};
  for (const data::Shard& shard : data::partition(data, {.workers = workers})) {
    problem.workers.emplace_back(shard, Softmax::Params{.lambda = lambda});
  }
  const Index dim = problem.workers.front().dim();

  fmt::print(
      "softmax regression on {} ({}): M = {}, {} images per worker, p = {}, lambda = {}, "
      "eta = alpha*M = {}, at most {} rounds, {}-bit floats on the links\n",
      source.name, loaded.source, workers, problem.workers.front().size(), dim, lambda, step,
      args.rounds, args.float_bits);
  std::fflush(stdout);  // the reference solver takes a while on the paper's size
  // f* certified by strong convexity (sim/reference.hpp); 1/η is the first guess of L.
  const sim::Reference reference = sim::reference_minimum(problem.workers, dim, lambda, 1.0 / step,
                                                          args.threads, reference_tolerance);
  fmt::print("f* = {:.12f} (accelerated reference solver, {} iterations, certified to {:.1e})\n\n",
             reference.minimum, reference.iterations, reference.bound);
  problem.progress_every = 100;

  const server::Sgd::Params gd{.step = server::StepSize::constant(step)};
  const compress::Markov<compress::Uniform>::Params quantizer{.compressor = {.bits = args.bits}};
  const std::string bits = fmt::format("{}-bit", args.bits);
  const std::vector<Entry<Softmax>> entries = {
      entry<Softmax>("gd", "GD", Gd{.server = gd}),
      entry<Softmax>("qgd", "QGD " + bits, Qgd{.uplink = quantizer, .server = gd}),
      // LAG's code: D = 10, ξ = 1/D, c = 1/η² (1/(α²M²) in the sum convention).
      entry<Softmax>("lag_wk", "LAG-WK", LagWk{.skip = {.D = 10}, .server = gd}),
      entry<Softmax>(
          "laq", "LAQ " + bits,
          Laq{.skip = {.threshold = {.D = 10}, .t_bar = 100, .error_weight = args.laq_error_weight},
              .uplink = quantizer,
              .server = gd}),
  };

  const double f_star = reference.minimum;
  // LAQ's stopping rule; each method stops there, its table row reports that round.
  const auto close_enough = [f_star](const sim::Record& r) {
    return r.loss - f_star <= target_gap;
  };
  problem.stop = close_enough;
  auto reached = [close_enough](const examples::Outcome& o) { return o.first(close_enough); };
  auto at_target = [reached](auto field) {
    return [reached, field](const examples::Outcome& o, const examples::Outcome&) {
      const sim::Record* row = reached(o);
      return row != nullptr ? field(*row) : std::string("not reached");
    };
  };
  auto saving = [reached](auto amount) {
    return [reached, amount](const examples::Outcome& o, const examples::Outcome& base) {
      const sim::Record* mine = reached(o);
      const sim::Record* theirs = reached(base);
      if (mine == nullptr || theirs == nullptr) return std::string("-");
      return examples::times(amount(*theirs), amount(*mine));
    };
  };
  const std::vector<examples::Column> columns = {
      {"rounds to 1e-6", 14,
       at_target([](const sim::Record& r) { return fmt::format("{}", r.round); })},
      {"uploads to 1e-6", 15,
       at_target([](const sim::Record& r) { return fmt::format("{}", r.traffic.uploads); })},
      {"Mbit to 1e-6", 12,
       at_target([](const sim::Record& r) { return examples::megabits(r.traffic.up.total()); })},
      {"upload saving", 13,
       saving([](const sim::Record& r) { return static_cast<double>(r.traffic.uploads); })},
      {"bit saving", 10,
       saving([](const sim::Record& r) { return static_cast<double>(r.traffic.up.total()); })},
      {"final gap", 9,
       [f_star](const examples::Outcome& o, const examples::Outcome&) {
         return fmt::format("{:.2e}", o.loss() - f_star);
       }},
  };
  const auto outcomes = examples::run_all(problem, entries, columns, args.out_dir);
  fmt::print("\nhistories written to {}/\n", args.out_dir.string());
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "laq_mnist: {}\n", error.what());
  return 1;
}
