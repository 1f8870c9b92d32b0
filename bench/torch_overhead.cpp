// The LibTorch objective's overhead: distributed SGD through laconic (objective::Torch workers,
// 64-bit identity links) against the same training written in plain LibTorch — one module,
// each worker's minibatch forward and backward at the same θ (autograd sums the workers'
// gradients into .grad), then θ ← θ − (η/M) Σ_m ∇f_m — with the same minibatches (laconic's
// sampler on RandomStream(seed, Purpose::batch, k, m)) and one thread on both sides. The final
// θ of the two must agree (to 1e-10 relative) before anything is timed.
//
// Target (issue 23): laconic / plain LibTorch <= 1.10 per round, rounds 1..K−2 (the History
// rows at the ends evaluate the full loss and are left out), median of alternating runs.
// The network is an MLP 784 → 64 → 10 (tanh, 50,890 parameters) on synthetic images of ten
// classes, M = 1 (one network's step: the adapter) and M = 10 workers of 200 images, batch 10,
// η = 0.2, 200 rounds.
//
// Usage: bench_torch_overhead [repetitions]

#include <laconic/methods.hpp>
#include <laconic/objective/torch.hpp>
#include <laconic/sim/simulation.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

namespace {

using namespace laconic;
using Net = objective::Torch<torch::nn::Sequential>;

constexpr std::int64_t per_worker = 200, pixels = 784, classes = 10;
constexpr Index rounds = 200, batch = 10;
constexpr double eta = 0.2;
constexpr std::uint64_t seed = 3;

torch::nn::Sequential mlp() {
  torch::manual_seed(1);
  torch::nn::Sequential net(torch::nn::Linear(pixels, 64), torch::nn::Tanh(),
                            torch::nn::Linear(64, classes));
  net->to(torch::kFloat64);
  return net;
}

struct Data {
  torch::Tensor inputs, targets;
};

Data images(std::int64_t workers) {
  torch::manual_seed(2);
  const std::int64_t n = workers * per_worker;
  const torch::Tensor templates = torch::rand({classes, pixels}, torch::kFloat64);
  const torch::Tensor targets = torch::randint(0, classes, {n}, torch::kLong);
  return {(templates.index_select(0, targets) + 0.35 * torch::randn({n, pixels}, torch::kFloat64))
              .clamp(0, 1),
          targets};
}

// Seconds per inner round of laconic's run, and its final θ.
std::pair<double, Vector> through_laconic(const Data& data, std::int64_t workers) {
  std::vector<Net> team;
  for (std::int64_t m = 0; m < workers; ++m) {
    team.emplace_back(mlp(), data.inputs.narrow(0, m * per_worker, per_worker),
                      data.targets.narrow(0, m * per_worker, per_worker));
  }
  const Vector theta0 = team.front().parameters();
  sim::Simulation simulation(
      Sgd{.server = {.step = server::StepSize::constant(eta), .batch = server::Batch::of(batch)}},
      std::move(team), theta0, {.seed = seed, .rounds = rounds, .record_every = rounds});
  std::chrono::steady_clock::time_point first, last;
  const sim::RunResult result = simulation.run([&](const sim::RoundView& view) {
    if (view.round == 1) first = std::chrono::steady_clock::now();
    if (view.round == rounds - 1) last = std::chrono::steady_clock::now();
    return sim::Control::proceed;
  });
  return {std::chrono::duration<double>(last - first).count() / static_cast<double>(rounds - 2),
          result.theta};
}

// The same rounds in plain LibTorch; seconds per round 1..K−2 and the final θ.
std::pair<double, Vector> plain(const Data& data, std::int64_t workers) {
  torch::nn::Sequential net = mlp();
  std::vector<torch::Tensor> parameters = net->parameters();
  const server::Batch minibatch = server::Batch::of(batch);
  sim::Sampler sampler(per_worker);
  std::vector<std::int64_t> rows(batch);
  std::chrono::steady_clock::time_point first, last;
  for (Index k = 0; k < rounds; ++k) {
    if (k == 1) first = std::chrono::steady_clock::now();
    if (k == rounds - 1) last = std::chrono::steady_clock::now();
    for (torch::Tensor& p : parameters) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
    for (std::int64_t m = 0; m < workers; ++m) {
      RandomStream rng(seed, Purpose::batch, static_cast<std::uint64_t>(k),
                       static_cast<std::uint64_t>(m));
      const Index b = sampler.draw(minibatch, per_worker, rng);
      const auto drawn = sampler.first(b);
      for (Index i = 0; i < b; ++i) rows[static_cast<std::size_t>(i)] = m * per_worker + drawn[i];
      sampler.restore(minibatch, b);
      const torch::Tensor index = torch::from_blob(rows.data(), {batch}, torch::kLong);
      torch::nn::functional::cross_entropy(net->forward(data.inputs.index_select(0, index)),
                                           data.targets.index_select(0, index))
          .backward();
    }
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : parameters) p.sub_(p.grad(), eta / static_cast<double>(workers));
  }
  Vector theta(0);
  for (const torch::Tensor& p : parameters) {
    const torch::Tensor flat = p.detach().reshape({-1}).contiguous();
    theta.conservativeResize(theta.size() + flat.numel());
    theta.tail(flat.numel()) = Eigen::Map<const Vector>(flat.data_ptr<double>(), flat.numel());
  }
  return {std::chrono::duration<double>(last - first).count() / static_cast<double>(rounds - 2),
          theta};
}

// Times both sides alternately; prints the medians and their ratio.
void compare(std::int64_t workers, int repetitions) {
  const Data data = images(workers);
  const auto [laconic_check, laconic_theta] = through_laconic(data, workers);
  const auto [plain_check, plain_theta] = plain(data, workers);
  const double difference = (laconic_theta - plain_theta).norm() / plain_theta.norm();
  fmt::print("M = {}: the final θ differ by {:.1e} relative", workers, difference);
  if (!(difference <= 1e-10)) {
    fmt::print("; the two trainings differ, nothing timed\n");
    return;
  }
  std::vector<double> ours, theirs;
  for (int r = 0; r < repetitions; ++r) {
    ours.push_back(through_laconic(data, workers).first);
    theirs.push_back(plain(data, workers).first);
  }
  std::sort(ours.begin(), ours.end());
  std::sort(theirs.begin(), theirs.end());
  const double a = ours[ours.size() / 2], b = theirs[theirs.size() / 2];
  fmt::print(
      "; per round laconic {:.0f} µs, plain LibTorch {:.0f} µs: laconic / plain = {:.3f} "
      "(target <= 1.10)\n",
      a * 1e6, b * 1e6, a / b);
}

}  // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 5;
  torch::set_num_threads(1);
  fmt::print(
      "torch overhead: MLP 784-64-10 (50,890 parameters), batch {} per worker, {} rounds, "
      "1 thread\n",
      batch, rounds);
  compare(1, repetitions);   // the adapter around one network's training step
  compare(10, repetitions);  // a distributed round: ten networks, one per worker
}
