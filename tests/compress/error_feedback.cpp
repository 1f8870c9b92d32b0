#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include "compress/fixtures.hpp"
#include "skip/fixtures.hpp"

using namespace laconic;
using compress::ErrorFeedback;
using compress::TopK;

static_assert(compress::Channel<ErrorFeedback<TopK>>);

TEST_CASE("error feedback delivers everything eventually: sent = input − memory",
          "[compress][error_feedback]") {
  // Σ_t c_t = Σ_t w_t − e_T: nothing is lost, only delayed.
  const ErrorFeedback<TopK> channel({.compressor = {.k = 2}});
  auto state = channel.make_state(20);
  Vector out(20), sent = Vector::Zero(20), input = Vector::Zero(20);
  for (std::uint64_t t = 0; t < 100; ++t) {
    const Vector w = test::awkward_vector(20, 200 + t);
    RandomStream rng(1, Purpose::compress, t);
    CHECK(channel.send(state, w, out, rng).values == 2 * 64);
    sent += out;
    input += w;
    CHECK((sent - (input - state.error)).norm() <= 1e-12 * input.norm());
  }
  // With a constant input the time-average of what is sent converges to it.
  const Vector w = test::awkward_vector(20, 7);
  auto fresh = channel.make_state(20);
  Vector total = Vector::Zero(20);
  RandomStream rng(2, Purpose::compress);
  for (int t = 0; t < 1000; ++t) {
    channel.send(fresh, w, out, rng);
    total += out;
  }
  CHECK((total / 1000 - w).norm() < 0.05 * w.norm());
}

TEST_CASE("error feedback's ends, kept apart, agree with the simulated channel",
          "[compress][error_feedback]") {
  // Only the sender has memory.
  test::check_ends_agree(ErrorFeedback<compress::ScaledSign>{}, 33, 10, 300,
                         [](const auto& shared, const auto& sender, const auto& /*receiver*/) {
                           return sender.error == shared.error;
                         });
}

// Karimireddy, Rebjock, Stich, Jaggi (2019), Algorithm 2 (EF-SGD), on M workers:
//   p_m = γ_t g_m + e_m,   Δ_m = C(p_m),   e_m ← p_m − Δ_m,   x ← x − (1/M) Σ_m Δ_m,
// written out here with full gradients and top-k; laconic::EfSgd must follow it for a step
// size that changes every round (the error is kept in scaled units, as the paper keeps it).
TEST_CASE("EF-SGD equals Karimireddy et al.'s Algorithm 2 for a changing step size",
          "[compress][error_feedback]") {
  constexpr Index M = 4, n = 50, p = 8, rounds = 60, k = 2;
  const auto step = server::StepSize::inverse_time(0.8, 3);
  const EfSgd<TopK> method{.uplink = {.compressor = {.k = k}}, .server = {.step = step}};
  const auto workers = test::logistic_workers(M, n, p);
  const auto run = sim::Simulation(method, workers, Vector::Zero(p), {.rounds = rounds}).run();

  auto plain = workers;
  std::vector<Vector> error(M, Vector::Zero(p));
  Vector x = Vector::Zero(p), g(p), delta(p), sum(p);
  const TopK top({.k = k});
  RandomStream unused(0, Purpose::compress);
  for (Index t = 0; t < rounds; ++t) {
    sum.setZero();
    for (Index m = 0; m < M; ++m) {
      plain[static_cast<std::size_t>(m)].full_gradient(x, g);
      Vector& e = error[static_cast<std::size_t>(m)];
      const Vector scaled = step.at(t) * g + e;
      top.compress(scaled, delta, unused);
      e = scaled - delta;
      sum += delta;
    }
    x -= sum / static_cast<double>(M);
  }
  INFO("distance " << (run.theta - x).norm() << " from ‖x‖ = " << x.norm());
  CHECK((run.theta - x).norm() <= 1e-12 * x.norm());
  CHECK(run.ledger.total().uploads == M * rounds);
}
