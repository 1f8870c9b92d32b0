// A LibTorch network trained across workers: an MLP (784 → 64 → 10, tanh) on Fashion-MNIST
// images split across 10 workers, by distributed SGD and by LASG-WK2 (the same SGD, but a
// worker uploads only when its gradient changed enough). Prints each method's held-out
// accuracy, uploads and bits. Reads Debian's dataset-fashion-mnist package
// (/usr/share/datasets/fashion-mnist) or --data-dir; without it, says so and uses synthetic
// images of ten classes.
//
//   torch_mlp [--rounds N] [--per-worker N] [--threads T] [--data-dir DIR]

#include <laconic/data/idx.hpp>
#include <laconic/methods.hpp>
#include <laconic/objective/torch.hpp>
#include <laconic/sim/simulation.hpp>

#include "common/cli.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace laconic;
using Net = objective::Torch<torch::nn::Sequential>;

constexpr std::int64_t workers = 10, pixels = 784, classes = 10, test_samples = 1000;

struct Arguments {
  Index rounds = 300;
  Index per_worker = 600;
  int threads = 1;
  std::filesystem::path data_dir = "/usr/share/datasets/fashion-mnist";
};

struct Images {
  torch::Tensor inputs;   // [n, 784], float64 in [0, 1]
  torch::Tensor targets;  // [n], int64 classes
};

Images read(const std::filesystem::path& dir, const std::string& prefix, std::int64_t n) {
  DenseMatrix images = data::read_idx_images(dir / (prefix + "-images-idx3-ubyte.gz"));
  Vector labels = data::read_idx_labels(dir / (prefix + "-labels-idx1-ubyte.gz"));
  n = std::min<std::int64_t>(n, images.rows());
  return {torch::from_blob(images.data(), {images.rows(), pixels}, torch::kFloat64)
              .narrow(0, 0, n)
              .clone(),
          torch::from_blob(labels.data(), {labels.size()}, torch::kFloat64)
              .narrow(0, 0, n)
              .to(torch::kLong)};
}

// Ten classes, each a random template of pixels plus noise, clipped to [0, 1].
Images synthetic(std::int64_t n, std::uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor templates = torch::rand({classes, pixels}, torch::kFloat64);
  const torch::Tensor targets = torch::randint(0, classes, {n}, torch::kLong);
  const torch::Tensor noise = 0.35 * torch::randn({n, pixels}, torch::kFloat64);
  return {(templates.index_select(0, targets) + noise).clamp(0, 1), targets};
}

torch::nn::Sequential mlp() {
  torch::manual_seed(1);  // every worker's copy starts from the same weights
  return torch::nn::Sequential(torch::nn::Linear(pixels, 64), torch::nn::Tanh(),
                               torch::nn::Linear(64, classes));
}

}  // namespace

int main(int argc, char** argv) try {
  Arguments args;
  examples::Cli cli("torch_mlp",
                    "An MLP in LibTorch on Fashion-MNIST across 10 workers: SGD and LASG-WK2");
  cli.add("--rounds", args.rounds);
  cli.add("--per-worker", args.per_worker);
  cli.add("--threads", args.threads);
  cli.add("--data-dir", args.data_dir);
  cli.parse(argc, argv);

  Images train, test;
  if (std::filesystem::exists(args.data_dir / "train-images-idx3-ubyte.gz")) {
    train = read(args.data_dir, "train", workers * args.per_worker);
    test = read(args.data_dir, "t10k", test_samples);
    fmt::print("Fashion-MNIST from {}: {} training images, {} held out\n", args.data_dir.string(),
               train.inputs.size(0), test.inputs.size(0));
  } else {
    fmt::print(
        "{} has no Fashion-MNIST (apt-get install dataset-fashion-mnist): using "
        "synthetic data\n",
        args.data_dir.string());
    const Images all = synthetic(workers * args.per_worker + test_samples, 2);
    const std::int64_t n = workers * args.per_worker;
    train = {all.inputs.narrow(0, 0, n), all.targets.narrow(0, 0, n)};
    test = {all.inputs.narrow(0, n, test_samples), all.targets.narrow(0, n, test_samples)};
  }

  std::vector<Net> team;
  const std::int64_t per_worker = train.inputs.size(0) / workers;
  for (std::int64_t m = 0; m < workers; ++m) {
    team.emplace_back(mlp(), train.inputs.narrow(0, m * per_worker, per_worker),
                      train.targets.narrow(0, m * per_worker, per_worker));
  }
  const Net held_out(mlp(), test.inputs, test.targets);
  const Vector theta0 = team.front().parameters();
  const sim::Options options{
      .seed = 1, .rounds = args.rounds, .threads = args.threads, .record_every = args.rounds};

  const auto step = server::StepSize::constant(0.2);
  const auto batch = server::Batch::of(10);
  const auto report = [&](const char* name, const sim::RunResult& r) {
    const Traffic& t = r.ledger.total();
    fmt::print("{:<10} loss {:.4f}  held-out accuracy {:.3f}  uploads {:>5}  bits up {}\n", name,
               r.history.rows.back().loss, held_out.accuracy(r.theta), t.uploads, t.up.total());
    return t.uploads;
  };
  fmt::print("{} parameters, {} rounds, batch 10 per worker\n", theta0.size(), args.rounds);
  const auto sgd = report(
      "SGD",
      sim::Simulation(Sgd{.server = {.step = step, .batch = batch}}, team, theta0, options).run());
  const auto lasg =
      report("LASG-WK2", sim::Simulation(LasgWk2{.skip = {.D = 50, .d_max = 10},
                                                 .server = {.step = step, .batch = batch}},
                                         team, theta0, options)
                             .run());
  fmt::print("LASG-WK2 uploaded {:.1f}x less than SGD\n",
             static_cast<double>(sgd) / static_cast<double>(std::max<std::uint64_t>(lasg, 1)));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "torch_mlp: {}\n", e.what());
  return 1;
}
