#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>

#include "compress/fixtures.hpp"

using namespace laconic;
using compress::ErrorFeedback;
using compress::TopK;

static_assert(compress::Channel<ErrorFeedback<TopK>>);

TEST_CASE("error feedback delivers everything eventually: sent = input − memory",
          "[compress][error_feedback]") {
  // Σ_t c_t = Σ_t w_t − e_T: nothing is lost, only delayed.
  const ErrorFeedback<TopK> channel({.k = 2, .float_bits = 64});
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
