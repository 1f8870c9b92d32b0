// Writing your own server update: heavy-ball momentum on the server (Polyak), v ← β v + ∇,
// θ ← θ − η_k v, where ∇ is the mean of what the workers uploaded. Written against the server
// update contract (laconic/server/server_update.hpp), run against plain gradient descent, and
// checked: with β = 0 it is plain GD bit for bit, and its momentum survives a checkpoint.

#include <laconic/laconic.hpp>

#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <string>

using namespace laconic;

namespace {

class HeavyBall {
 public:
  struct Params {
    server::StepSize step{};                // η_k
    server::Batch batch{};                  // each worker's minibatch (full: GD)
    server::Participation participation{};  // who uploads each round
    double beta = 0.9;                      // momentum, in [0, 1)
  };
  // A round: θ^k down, a gradient up from each participant, update() on the server.
  static constexpr server::Shape shape = server::Shape::gradient;

  explicit HeavyBall(const Params& params) : params_(params) {
    params_.step.validate();
    params_.batch.validate();
    params_.participation.validate();
    require_param(params_.beta >= 0 && params_.beta < 1, "beta", params_.beta, "in [0, 1)");
  }

  const Params& params() const { return params_; }

  // Round k: `aggregate` is the mean of the decoded uploads; theta is updated in place.
  void update(Index k, const Vector& aggregate, Vector& theta) {
    if (velocity_.size() != theta.size()) velocity_ = Vector::Zero(theta.size());
    velocity_ = params_.beta * velocity_ + aggregate;
    theta.noalias() -= params_.step.at(k) * velocity_;
  }

  template <class Io>
  void state(Io& io) {
    io(velocity_);  // the model is the simulation's; the momentum is ours to checkpoint
  }
  std::string describe() const {
    return fmt::format("heavy_ball(step={}, batch={}, participation={}, beta={})",
                       params_.step.describe(), params_.batch.describe(),
                       params_.participation.describe(), params_.beta);
  }

 private:
  Params params_;
  Vector velocity_;
};

using MomentumGd = Method<skip::Never, compress::Identity, HeavyBall>;

}  // namespace

int main() {
  const auto problem = data::make_logistic({.samples = 2000, .features = 50, .seed = 3});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(problem.data, {.workers = 10})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  }
  const auto step = server::StepSize::constant(0.5);
  const sim::Options options{
      .seed = 1, .rounds = 3000, .record_every = 10, .target_grad_norm_sq = 1e-10};
  const Vector theta0 = Vector::Zero(50);
  const auto run = [&](const auto& method) {
    return sim::Simulation(method, workers, theta0, options).run();
  };

  // 1. Rounds (and uploads) until ‖∇f‖² < 10⁻¹⁰: GD against momentum 0.9.
  const sim::RunResult gd = run(Gd{.server = {.step = step}});
  const sim::RunResult heavy = run(MomentumGd{.server = {.step = step, .beta = 0.9}});
  for (const sim::RunResult* r : {&gd, &heavy}) {
    const sim::Record& last = r->history.rows.back();
    fmt::print("{:<10} |grad|^2 {:.2e} at round {:>4}: loss {:.10f}, {:>5} uploads\n",
               r == &gd ? "GD" : "heavy ball", last.grad_norm_sq, last.round, last.loss,
               last.traffic.uploads);
  }

  // 2. β = 0 is plain GD, bit for bit.
  const bool plain = run(MomentumGd{.server = {.step = step, .beta = 0}}).theta == gd.theta;
  fmt::print("beta = 0 equals GD bit for bit: {}\n", plain ? "yes" : "NO");

  // 3. Saved after 50 rounds and resumed: the same 50 rounds that follow.
  const sim::Options fifty{.seed = 1, .rounds = 50};
  const MomentumGd method{.server = {.step = step, .beta = 0.9}};
  sim::Simulation first(method, workers, theta0, fifty), second(method, workers, theta0, fifty);
  first.run();
  first.save("custom_server_update.ckpt");
  second.load("custom_server_update.ckpt");
  std::filesystem::remove("custom_server_update.ckpt");
  const bool resumed = first.run().theta == second.run().theta;
  fmt::print("resumed from a checkpoint: {}\n", resumed ? "identical" : "DIFFERENT");

  const bool faster = heavy.status == sim::Status::reached &&
                      heavy.ledger.total().uploads * 2 < gd.ledger.total().uploads;
  return faster && plain && resumed ? 0 : 1;
}
