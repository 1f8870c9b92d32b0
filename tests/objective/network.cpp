#include <laconic/objective/network.hpp>

#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "objective/fixtures.hpp"
#include "objective/torch_fixtures.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

using namespace laconic;
using objective::Network;

namespace {

// 64 features (8 × 8 images), 3 classes.
data::Synthetic images(Index samples = 40) {
  return data::make_multiclass_logistic(
      {.samples = samples, .features = 64, .classes = 3, .seed = 5});
}

// ‖gradient − central differences of the loss‖ / ‖gradient‖ at x.
double gradient_error(Network& net, const Vector& x, const std::vector<Index>& batch) {
  Vector g, scratch;
  net.gradient(x, batch, g);
  const auto loss = [&](const Vector& y) { return net.gradient(y, batch, scratch); };
  return test::relative_error(g, test::numerical_gradient(loss, x));
}

}  // namespace

TEST_CASE("a network's θ has one entry per weight and bias of the layers its parameters name",
          "[objective][torch][network]") {
  const auto data = images();
  const data::Shard shard = data::whole(data.data);
  const Network mlp(shard, {.hidden = {7, 5}});
  CHECK(mlp.dim() == (64 * 7 + 7) + (7 * 5 + 5) + (5 * 3 + 3));
  CHECK(mlp.size() == 40);
  // cnn: 8 × 8 → conv 5×5 to 2 maps, pool → 4 × 4 → conv to 3 maps, pool → 2 × 2 → 12 → 5 → 3.
  const Network cnn(
      shard, {.architecture = Network::Architecture::cnn, .hidden = {5}, .channels = {2, 3}});
  CHECK(cnn.dim() == (2 * 25 + 2) + (3 * 2 * 25 + 3) + (12 * 5 + 5) + (5 * 3 + 3));
}

TEST_CASE("a network's gradient matches central differences, weight decay included",
          "[objective][torch][network]") {
  const auto data = images();
  const data::Shard shard = data::whole(data.data);
  const std::vector<Index> batch{3, 1, 4, 1, 5, 9, 2, 6};
  for (const auto architecture : {Network::Architecture::mlp, Network::Architecture::cnn}) {
    Network net(shard, {.architecture = architecture,
                        .hidden = {6},
                        .channels = {2, 3},
                        .activation = Network::Activation::tanh,
                        .weight_decay = 0.01});
    const Vector x = net.initial_point(3);
    INFO("architecture " << static_cast<int>(architecture));
    CHECK(gradient_error(net, x, batch) <= 1e-8);

    // Weight decay adds λθ to the gradient and λ/2‖θ‖² to the loss.
    Network plain(shard, {.architecture = architecture,
                          .hidden = {6},
                          .channels = {2, 3},
                          .activation = Network::Activation::tanh});
    Vector g, g_plain;
    const double loss = net.gradient(x, batch, g);
    const double loss_plain = plain.gradient(x, batch, g_plain);
    CHECK(loss == Approx(loss_plain + 0.005 * x.squaredNorm()).epsilon(1e-14));
    CHECK((g - g_plain - 0.01 * x).norm() <= 1e-14 * g.norm());
  }
}

TEST_CASE("θ⁰ draws each layer from U(±1/√fan_in), fixed by the seed",
          "[objective][torch][network]") {
  const auto data = images();
  const Network net(data::whole(data.data), {.hidden = {200}});
  const Vector a = net.initial_point(1);
  CHECK(a == net.initial_point(1));
  CHECK(a != net.initial_point(2));
  // The layers in θ's order: 64 → 200 (weights, biases), then 200 → 3.
  struct Layer {
    Index size;
    double fan_in;
  };
  Index offset = 0;
  for (const Layer layer :
       {Layer{64 * 200, 64}, Layer{200, 64}, Layer{200 * 3, 200}, Layer{3, 200}}) {
    const auto part = a.segment(offset, layer.size);
    offset += layer.size;
    const double bound = 1 / std::sqrt(layer.fan_in);
    CHECK(part.cwiseAbs().maxCoeff() <= bound);
    if (layer.size >= 600) {
      // Mean 0 and variance bound²/3, to within four standard errors.
      const double n = static_cast<double>(layer.size);
      const double variance = bound * bound / 3;
      CHECK(std::abs(part.mean()) <= 4 * std::sqrt(variance / n));
      CHECK(std::abs(part.squaredNorm() / n - variance) <= 4 * variance * std::sqrt(0.8 / n));
    }
  }
  CHECK(offset == a.size());
}

TEST_CASE("a network trains with LASG-WK2 on separable synthetic classes",
          "[objective][torch][network][sim]") {
  const auto data = images(600);
  std::vector<Network> workers;
  for (const data::Shard& shard : data::partition(data.data, {.workers = 4})) {
    workers.emplace_back(shard, Network::Params{.hidden = {16}});
  }
  const LasgWk2 method{
      .server = {.step = server::StepSize::constant(0.5), .batch = server::Batch::of(16)}};
  const auto result =
      sim::Simulation(method, workers, workers.front().initial_point(1), {.rounds = 200}).run();
  REQUIRE(result.status == sim::Status::completed);
  double accuracy = 0;
  for (const Network& w : workers) accuracy += w.accuracy(result.theta) / 4;
  CHECK(accuracy >= 0.9);
  CHECK(result.history.rows.back().loss < 0.5 * result.history.rows.front().loss);
}

TEST_CASE("dropout's masks come from the engine's stream: runs repeat on any thread count",
          "[objective][torch][network][sim]") {
  const auto data = images(200);
  std::vector<Network> team;
  for (const data::Shard& shard : data::partition(data.data, {.workers = 4})) {
    team.emplace_back(shard, Network::Params{.hidden = {16}, .dropout = 0.3});
  }
  // One stream, one set of masks: a skip rule's second gradient on the batch sees the same.
  Network& w = team.front();
  const Vector x = w.initial_point(2);
  const std::vector<Index> batch{0, 3, 7, 9};
  Vector a, b, c;
  w.draw_from(sim::objective_stream(1, 3, 0));
  const double loss = w.gradient(x, batch, a);
  CHECK(w.gradient(x, batch, b) == loss);
  CHECK(a == b);
  w.draw_from(sim::objective_stream(1, 4, 0));
  w.gradient(x, batch, c);
  CHECK(c != a);
  // Full gradients (the History's) are taken without dropout.
  Network plain(data::partition(data.data, {.workers = 4}).front(), {.hidden = {16}});
  Vector full, plain_full;
  CHECK(w.full_gradient(x, full) == plain.full_gradient(x, plain_full));
  CHECK(full == plain_full);

  // LASG-WK2 (two gradients a round on one batch) and local SGD (a stream per local step).
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.3),
                                .batch = server::Batch::of(8)};
  const auto check = [&](const auto& method) {
    const sim::RunResult one =
        test::check_repeats(method, team, w.initial_point(1), 30, 12, "dropout");
    // Another seed draws other masks.
    CHECK(
        sim::Simulation(method, team, w.initial_point(1), {.seed = 12, .rounds = 30}).run().theta !=
        one.theta);
  };
  check(LasgWk2{.server = sgd});
  check(LocalSgd{.server = {.step = server::StepSize::constant(0.3),
                            .batch = server::Batch::of(8),
                            .local_steps = 3}});
}

TEST_CASE("a network's invalid parameters name themselves, their value and what is allowed",
          "[objective][torch][network]") {
  const auto data = images();
  const data::Shard shard = data::whole(data.data);
  using Catch::Contains;
  CHECK_THROWS_WITH(Network(shard, {.weight_decay = -1}),
                    Contains("weight_decay") && Contains("-1") && Contains(">= 0"));
  CHECK_THROWS_WITH(Network(shard, {.hidden = {4, 0}}), Contains("hidden[1]") && Contains(">= 1"));
  CHECK_THROWS_WITH(Network(shard, {.dropout = 1}), Contains("dropout") && Contains("[0, 1)"));
  CHECK_THROWS_WITH(Network(shard, {.architecture = Network::Architecture::cnn, .image = 7}),
                    Contains("image") && Contains("7") && Contains("64 features"));
  CHECK_THROWS_WITH(
      Network(shard, {.architecture = Network::Architecture::cnn, .channels = {1, 1, 1, 1}}),
      Contains("channels") && Contains("at most 3 convolutions"));
  const auto binary = data::make_logistic({.samples = 10, .features = 4});
  CHECK_THROWS_WITH(Network(data::whole(binary.data), {}),
                    Contains("dataset task") && Contains("multiclass"));
}
