#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>

#include "compress/fixtures.hpp"

#include <cmath>

using namespace laconic;
using compress::Markov;
using compress::TopK;
using compress::Uniform;

static_assert(compress::Channel<Markov<TopK>>);
static_assert(compress::Channel<compress::channel_t<TopK>>);

namespace {

Vector vec(std::initializer_list<double> values) {
  Vector v(static_cast<Index>(values.size()));
  Index i = 0;
  for (const double x : values) v[i++] = x;
  return v;
}

}  // namespace

TEST_CASE("Markov<Uniform> follows a hand-worked LAQ trajectory", "[compress][markov]") {
  // One bit per coordinate: the grid is {−R, +R} with R = ‖w − ŵ‖_∞, and a coordinate maps
  // to +R exactly when it is ≥ 0 (q = ⌊(x + R)/(2R) + ½⌋).
  const Markov<Uniform> channel({.compressor = {.bits = 1}});
  auto state = channel.make_state(3);
  const Vector w = vec({1, -0.5, 0.25});
  Vector out(3);
  RandomStream rng(0, Purpose::compress);

  // Step 1: innovation w, R = 1 → (1, −1, 1).
  Bits bits = channel.send(state, w, out, rng);
  CHECK(out == vec({1, -1, 1}));
  CHECK(bits == Bits{.values = 3, .metadata = 64, .paper = 35});  // LAQ's 32 + b·p, R exact
  // Step 2: innovation (0, 0.5, −0.75), R = 0.75 → (0.75, 0.75, −0.75).
  channel.send(state, w, out, rng);
  CHECK(out == vec({1.75, -0.25, 0.25}));
  // Step 3: innovation (−0.75, −0.25, 0), R = 0.75 → (−0.75, −0.75, 0.75).
  channel.send(state, w, out, rng);
  CHECK(out == vec({1, -1, 1}));
}

TEST_CASE("Markov estimates track a converging sequence ever more closely", "[compress][markov]") {
  // w_t = w* + 0.9^t v: top-2 of 10 coordinates contracts the innovation each round, so the
  // receiver's error ‖ŵ_t − w_t‖ goes to zero with the sequence's steps.
  const Vector target = test::awkward_vector(10, 3);
  const Vector direction = test::awkward_vector(10, 4);
  const Markov<TopK> channel({.compressor = {.k = 2}});
  auto state = channel.make_state(10);
  Vector out(10);
  RandomStream rng(0, Purpose::compress);
  std::vector<double> error;
  for (int t = 0; t < 400; ++t) {
    const Vector w = target + std::pow(0.9, t) * direction;
    channel.send(state, w, out, rng);
    error.push_back((out - w).norm());
  }
  CHECK(error[399] < 1e-12 * error[0]);
  for (int t = 50; t < 400; t += 50) CHECK(error[t] < error[t - 50]);
}

TEST_CASE("Markov's two ends, kept apart, agree with the simulated channel", "[compress][markov]") {
  test::check_ends_agree(Markov<TopK>({.compressor = {.k = 3}}), 50, 20, 100,
                         [](const auto& shared, const auto& sender, const auto& receiver) {
                           return sender.estimate == receiver.estimate &&
                                  sender.estimate == shared.estimate;
                         });
}

TEST_CASE("Markov with an exact start sends w_0 as floats, then innovations",
          "[compress][markov]") {
  using Start = Markov<TopK>::Start;
  const Vector w0 = vec({0.1, -2, 3, 0.5});
  const Vector w1 = vec({0.1, -2, 5, 0.5});
  Vector out(4);
  RandomStream rng(0, Purpose::compress);
  // Every float of the link, the start's included, at the link's width (one setting).
  for (const int width : {32, 64}) {
    const auto u = static_cast<std::uint64_t>(width);
    const Markov<TopK> channel({.compressor = {.k = 1}, .start = Start::exact},
                               {.float_bits = width});
    auto state = channel.make_state(4);
    CHECK(channel.send(state, w0, out, rng) == Bits{.values = 4 * u, .paper = 4 * 32});
    CHECK(out == (width == 64 ? w0 : Vector(w0.cast<float>().cast<double>())));
    const Bits second = channel.send(state, w1, out, rng);
    CHECK(second.values == u);
    CHECK(second.paper == 32);  // EF21 counts the value, not its index
    CHECK(out[2] == 5);         // the one changed coordinate was the top-1 innovation
  }

  // A zero start makes the first message C(w_0), CD-Adam's ŵ_0 = C(w_0).
  const Markov<TopK> zero({.compressor = {.k = 1}});
  auto fresh = zero.make_state(4);
  zero.send(fresh, w0, out, rng);
  CHECK(out == vec({0, 0, 3, 0}));
}

// Two messages each finite, whose sum is not: the receiver refuses the second and keeps its
// estimate (a crafted sequence fuzz_message found for Markov<Uniform>).
TEST_CASE("Markov's receiver refuses a message that takes its estimate beyond the floats",
          "[compress][markov]") {
  const Markov<compress::Identity> channel;
  const Vector huge = Vector::Constant(3, 1e308);
  RandomStream rng(1, Purpose::compress, 0, 0);
  auto sender = channel.make_state(3);
  const Message first = channel.encode(sender, huge, rng);
  auto other_sender = channel.make_state(3);
  const Message second = channel.encode(other_sender, huge, rng);
  auto receiver = channel.make_state(3);
  Vector out(3);
  channel.decode(receiver, first, out, rng);
  CHECK(out == huge);
  CHECK_THROWS_AS(channel.decode(receiver, second, out, rng), DecodeError);
  CHECK(receiver.estimate == huge);
}

TEST_CASE("Markov: invalid parameters name themselves, their value and the allowed range",
          "[compress][markov]") {
  using Catch::Contains;
  using Params = Markov<compress::Uniform>::Params;
  using Start = Markov<compress::Uniform>::Start;
  const auto refused = [](Params params) {
    return test::refusal([&] { Markov<compress::Uniform>{params}; });
  };
  CHECK_THAT(refused({.start = static_cast<Start>(2)}),
             Contains("markov.start = 2: must be zero or exact"));
  CHECK_THAT(refused({.compressor = {.bits = 0}}), Contains("uniform.bits = 0: must be in 1..31"));
  CHECK(refused({.compressor = {.bits = 1}, .start = Start::exact}) == "accepted");
  CHECK_THAT(test::refusal([] { Markov<compress::Uniform>({}, {.float_bits = 16}); }),
             Contains("float_bits = 16: must be 32 or 64"));
}
