// A linear softmax model in LibTorch on two workers, trained by distributed GD through the
// installed laconic: prints the loss before and after.

#include <laconic/methods.hpp>
#include <laconic/objective/torch.hpp>
#include <laconic/sim/simulation.hpp>

#include <cstdio>
#include <vector>

int main() {
  using namespace laconic;
  torch::manual_seed(1);
  const torch::Tensor inputs = torch::randn({40, 3}, torch::kFloat64);
  const torch::Tensor targets = (inputs.select(1, 0) > 0).to(torch::kLong);
  std::vector<objective::Torch<torch::nn::Linear>> workers;
  for (int m = 0; m < 2; ++m) {
    torch::manual_seed(2);
    workers.emplace_back(torch::nn::Linear(3, 2), inputs.narrow(0, 20 * m, 20),
                         targets.narrow(0, 20 * m, 20));
  }
  const Gd method{.server = {.step = server::StepSize::constant(1.0)}};
  const sim::RunResult result =
      sim::Simulation(method, workers, workers.front().parameters(), {.rounds = 50}).run();
  std::printf("loss %.4f -> %.4f\n", result.history.rows.front().loss,
              result.history.rows.back().loss);
  return result.history.rows.back().loss < result.history.rows.front().loss ? 0 : 1;
}
