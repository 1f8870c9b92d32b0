#include <laconic/objective/torch.hpp>

#include <laconic/data/idx.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <vector>

#include "objective/fixtures.hpp"
#include "objective/torch_fixtures.hpp"
#include "support.hpp"

using namespace laconic;
using Net = objective::Torch<torch::nn::Sequential>;

namespace {

constexpr std::int64_t features = 4, hidden = 5, classes = 3;

// A small MLP, the same for the same seed: 4 → 5 (tanh) → 3, 43 parameters.
torch::nn::Sequential mlp(std::uint64_t seed) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(features, hidden), torch::nn::Tanh(),
                               torch::nn::Linear(hidden, classes));
}

// n samples in three classes, each class around its own centre.
std::pair<torch::Tensor, torch::Tensor> blobs(std::int64_t n, std::uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor targets = torch::arange(n, torch::kLong).remainder(classes);
  const torch::Tensor centres = 2.0 * torch::randn({classes, features}, torch::kFloat64);
  const torch::Tensor inputs =
      centres.index_select(0, targets) + 0.5 * torch::randn({n, features}, torch::kFloat64);
  return {inputs, targets};
}

std::vector<Net> workers(std::int64_t m, std::int64_t per_worker) {
  const auto [inputs, targets] = blobs(m * per_worker, 3);
  std::vector<Net> result;
  for (std::int64_t w = 0; w < m; ++w) {
    result.emplace_back(mlp(7), inputs.narrow(0, w * per_worker, per_worker),
                        targets.narrow(0, w * per_worker, per_worker));
  }
  return result;
}

std::vector<Index> all_of(Index n) {
  std::vector<Index> batch(static_cast<std::size_t>(n));
  std::iota(batch.begin(), batch.end(), Index{0});
  return batch;
}

}  // namespace

TEST_CASE("θ is the module's parameters, flattened in order, and the module sees every θ",
          "[objective][torch]") {
  auto net = mlp(1);
  const auto [inputs, targets] = blobs(12, 2);
  Net objective(net, inputs, targets);
  REQUIRE(objective.dim() == features * hidden + hidden + hidden * classes + classes);
  CHECK(objective.size() == 12);

  // parameters(): weight then bias of each Linear, each row-major.
  std::vector<double> expected;
  for (const torch::Tensor& p : net->parameters()) {
    const torch::Tensor flat = p.detach().reshape({-1}).contiguous();
    expected.insert(expected.end(), flat.data_ptr<double>(),
                    flat.data_ptr<double>() + flat.numel());
  }
  const Vector theta = objective.parameters();
  CHECK(std::vector<double>(theta.data(), theta.data() + theta.size()) == expected);

  // A θ given to gradient() is read where it lies: afterwards the module holds its own θ
  // again, so nothing points into x once x is gone, and no gradient is left behind.
  const std::vector<Index> batch{0, 5, 5, 11};
  Vector g;
  {
    const Vector x = Vector::LinSpaced(objective.dim(), -1, 1);
    objective.gradient(x, batch, g);
  }
  CHECK(objective.parameters() == theta);
  for (const torch::Tensor& p : net->parameters()) CHECK_FALSE(p.grad().defined());
  Vector again;
  objective.gradient(objective.parameters(), batch, again);
  CHECK(again != g);  // the module's own θ, not the x that is gone

  // set_parameters() is what the module's parameters hold afterwards (a trained θ).
  const Vector x = Vector::LinSpaced(objective.dim(), -2, 2);
  objective.set_parameters(x);
  CHECK(objective.parameters() == x);
  const torch::Tensor first_weight = net->parameters()[0].detach().reshape({-1});
  CHECK(first_weight[0].item<double>() == x[0]);
  CHECK(first_weight[features * hidden - 1].item<double>() == x[features * hidden - 1]);
  CHECK_THROWS_WITH(objective.set_parameters(Vector::Zero(3)), Catch::Contains("3"));
}

TEST_CASE("the gradient is autograd's, and matches central differences of the returned loss",
          "[objective][torch]") {
  const auto [inputs, targets] = blobs(20, 4);
  Net objective(mlp(5), inputs, targets);
  const Vector x = objective.parameters() * 1.5;
  const std::vector<Index> batch{3, 1, 4, 1, 5, 9, 2, 6};
  Vector g;
  const double loss = objective.gradient(x, batch, g);
  REQUIRE(g.size() == objective.dim());

  // The loss is the batch's mean cross-entropy, computed here by hand from the outputs.
  {
    // (The caller's grad mode off, as here, must not stop gradient() below.)
    torch::NoGradGuard no_grad;
    objective.set_parameters(x);
    const auto rows = torch::tensor(std::vector<std::int64_t>(batch.begin(), batch.end()));
    const torch::Tensor scores = objective.module()->forward(inputs.index_select(0, rows));
    const torch::Tensor log_p = torch::log_softmax(scores, 1);
    double by_hand = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      by_hand -= log_p[static_cast<std::int64_t>(i)][targets[batch[i]].item<std::int64_t>()]
                     .item<double>();
    }
    CHECK(loss == Approx(by_hand / static_cast<double>(batch.size())).epsilon(1e-13));
    Vector again;
    CHECK(objective.gradient(x, batch, again) == loss);
    CHECK(again == g);
  }

  Vector scratch;
  const auto f = [&](const Vector& y) { return objective.gradient(y, batch, scratch); };
  const double worst = (test::numerical_gradient(f, x) - g).cwiseAbs().maxCoeff();
  INFO("largest difference " << worst << ", gradient norm " << g.norm());
  CHECK(worst <= 1e-8 * std::max(1.0, g.norm()));
}

TEST_CASE("a module with dropout, declared random, runs the same on 1 and 2 threads",
          "[objective][torch][sim]") {
  const auto [inputs, targets] = blobs(4 * 30, 3);
  std::vector<Net> team;
  for (std::int64_t w = 0; w < 4; ++w) {
    torch::manual_seed(7);
    team.emplace_back(
        torch::nn::Sequential(torch::nn::Linear(features, hidden), torch::nn::Tanh(),
                              torch::nn::Dropout(0.3), torch::nn::Linear(hidden, classes)),
        inputs.narrow(0, w * 30, 30), targets.narrow(0, w * 30, 30), Net::Params{.random = true});
  }
  const LasgWk2 method{
      .server = {.step = server::StepSize::constant(0.5), .batch = server::Batch::of(8)}};
  const Vector theta0 = team.front().parameters();  // before a run moves the shared module
  const auto run = [&](int threads, std::uint64_t seed) {
    return sim::Simulation(method, team, theta0, {.seed = seed, .rounds = 30, .threads = threads})
        .run();
  };
  const sim::RunResult one = run(1, 11);
  CHECK(run(2, 11).theta == one.theta);
  CHECK(run(2, 11).history == one.history);
  CHECK(run(1, 12).theta != one.theta);  // other masks
}

TEST_CASE("a run over Torch workers is the same on 1 and 2 threads and after save and load",
          "[objective][torch][sim]") {
  const auto team = workers(4, 30);
  const Vector theta0 = team.front().parameters();
  const Sgd method{
      .server = {.step = server::StepSize::constant(0.5), .batch = server::Batch::of(8)}};
  const sim::RunResult one = test::check_repeats(method, team, theta0, 40, 15, "torch");
  CHECK(one.history.rows.back().loss < 0.5 * one.history.rows.front().loss);
}

TEST_CASE("LASG-WK2 trains a Torch MLP to a stated accuracy and skips uploads",
          "[objective][torch][sim]") {
  auto team = workers(5, 40);
  const auto [test_inputs, test_targets] = blobs(300, 3);
  const Net test(mlp(7), test_inputs.narrow(0, 200, 100), test_targets.narrow(0, 200, 100));
  const Vector theta0 = team.front().parameters();
  const LasgWk2 method{
      .skip = {.D = 10, .d_max = 10},
      .server = {.step = server::StepSize::constant(0.3), .batch = server::Batch::of(10)}};
  sim::Simulation simulation(method, team, theta0, {.seed = 2, .rounds = 150, .record_every = 150});
  const sim::RunResult result = simulation.run();
  CHECK(test.accuracy(result.theta) >= 0.95);
  CHECK(test.accuracy(theta0) < 0.7);
  CHECK(result.ledger.total().uploads < 5u * 150u);
}

// MNIST's test set (../shared/data/mnist) split in two: the first 2000 images spread over five
// workers, the last 1000 held out.
TEST_CASE("LASG-WK2 trains an MLP on an MNIST subset to 80 % held-out accuracy in 300 rounds",
          "[objective][torch][sim][data]") {
  const auto images_path = test::data_file("mnist/t10k-images-idx3-ubyte.gz");
  const auto labels_path = test::data_file("mnist/t10k-labels-idx1-ubyte.gz");
  if (!images_path || !labels_path) return;
  DenseMatrix images = data::read_idx_images(*images_path);
  Vector labels = data::read_idx_labels(*labels_path);
  const torch::Tensor inputs =
      torch::from_blob(images.data(), {images.rows(), images.cols()}, torch::kFloat64);
  const torch::Tensor targets =
      torch::from_blob(labels.data(), {labels.size()}, torch::kFloat64).to(torch::kLong);
  const auto network = [] {
    torch::manual_seed(1);
    return torch::nn::Sequential(torch::nn::Linear(784, 32), torch::nn::Tanh(),
                                 torch::nn::Linear(32, 10));
  };
  std::vector<Net> team;
  for (std::int64_t m = 0; m < 5; ++m) {
    team.emplace_back(network(), inputs.narrow(0, 400 * m, 400), targets.narrow(0, 400 * m, 400));
  }
  const Net held_out(network(), inputs.narrow(0, 9000, 1000), targets.narrow(0, 9000, 1000));
  const Vector theta0 = team.front().parameters();
  const LasgWk2 method{
      .skip = {.D = 50, .d_max = 10},
      .server = {.step = server::StepSize::constant(0.3), .batch = server::Batch::of(10)}};
  const sim::RunResult result =
      sim::Simulation(method, team, theta0, {.seed = 1, .rounds = 300, .record_every = 300}).run();
  const double accuracy = held_out.accuracy(result.theta);
  INFO("held-out accuracy " << accuracy << ", uploads " << result.ledger.total().uploads);
  CHECK(held_out.accuracy(theta0) < 0.2);
  CHECK(accuracy >= 0.8);  // 0.847 when written
  CHECK(result.ledger.total().uploads < 5u * 300u);
}

TEST_CASE("Torch objectives refuse what they cannot keep, naming it", "[objective][torch]") {
  const auto [inputs, targets] = blobs(6, 1);
  CHECK_THAT(test::refusal([&] {
               Net(torch::nn::Sequential(torch::nn::Linear(features, 3), torch::nn::BatchNorm1d(3)),
                   inputs, targets);
             }),
             Catch::Contains("module buffers") && Catch::Contains("BatchNorm"));
  CHECK_THAT(test::refusal([&] { Net(mlp(1), inputs, targets.narrow(0, 0, 5)); }),
             Catch::Contains("targets.size(0) = 5") && Catch::Contains("inputs.size(0) = 6"));
  CHECK_THAT(test::refusal([&] { Net(mlp(1), inputs, targets, {.intra_op_threads = 0}); }),
             Catch::Contains("intra_op_threads = 0"));
  Net objective(mlp(1), inputs, targets);
  Vector g;
  const std::vector<Index> outside{6};
  CHECK_THROWS_WITH(objective.gradient(objective.parameters(), outside, g),
                    Catch::Contains("batch index 6 outside the worker's samples [0, 6)"));
  CHECK_THAT(test::refusal([&] { objective.gradient(Vector::Zero(3), all_of(6), g); }),
             Catch::Contains("x.size() = 3"));
}
