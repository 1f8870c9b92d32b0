#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>
#include <laconic/methods.hpp>
#include <laconic/runtime/channel.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "compress/fixtures.hpp"
#include "runtime/fixtures.hpp"
#include "support.hpp"

#include <cstring>
#include <string>

using namespace laconic;
using runtime::Channel;

namespace {

template <class State>
std::string archived(State& state) {
  ArchiveWriter writer;
  writer(state);
  return writer.bytes();
}

bool same_bits(const Vector& a, const Vector& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
}

// Six messages through channel L and through runtime::Channel choosing L, on one shared end
// (send) and on two ends apart (encode, decode): the same outputs, bits, bytes and states.
template <class L>
void check_same(const typename L::Params& params, const compress::Wire& wire = {}) {
  using Concrete = compress::channel_t<L>;
  const Index p = 40;
  const Concrete concrete(params, wire);
  const Channel erased(runtime::channel<L>(params), wire);
  INFO(concrete.describe());
  CHECK(erased.describe() == concrete.describe());
  CHECK(erased.keeps_state() == !std::is_empty_v<typename Concrete::State>);
  CHECK(erased.verbatim(p) == compress::verbatim(concrete, p));
  auto shared = concrete.make_state(p), sender = concrete.make_state(p),
       receiver = concrete.make_state(p);
  auto erased_shared = erased.make_state(p), erased_sender = erased.make_state(p),
       erased_receiver = erased.make_state(p);
  Vector out(p), erased_out(p);
  for (std::uint64_t t = 0; t < 6; ++t) {
    const Vector w = test::awkward_vector(p, 11 + t);
    RandomStream a(3, Purpose::compress, t), b(3, Purpose::compress, t);
    CHECK(erased.send(erased_shared, w, erased_out, b) == concrete.send(shared, w, out, a));
    CHECK(same_bits(erased_out, out));
    CHECK(archived(erased_shared) == archived(shared));

    RandomStream c(5, Purpose::compress, t), d(5, Purpose::compress, t);
    const RandomStream c0 = c, d0 = d;
    const Message message = concrete.encode(sender, w, c);
    const Message erased_message = erased.encode(erased_sender, w, d);
    CHECK(erased_message.bytes == message.bytes);
    CHECK(erased_message.bits == message.bits);
    RandomStream c1 = c0, d1 = d0;
    concrete.decode(receiver, message, out, c1);
    erased.decode(erased_receiver, erased_message, erased_out, d1);
    CHECK(same_bits(erased_out, out));
    CHECK(archived(erased_sender) == archived(sender));
    CHECK(archived(erased_receiver) == archived(receiver));
  }
}

}  // namespace

TEST_CASE("a channel chosen at run time sends what the chosen type sends, bit for bit",
          "[runtime]") {
  for (const int width : {64, 32}) {
    const compress::Wire wire{.float_bits = width};
    check_same<compress::Identity>({}, wire);
    check_same<compress::Qsgd>({.levels = 3}, wire);
    check_same<compress::TopK>({.k = 5}, wire);
    check_same<compress::RandK>({.k = 5, .shared_seed = true}, wire);
    check_same<compress::ScaledSign>({}, wire);
    check_same<compress::Markov<compress::TopK>>({.compressor = {.k = 3}}, wire);
    check_same<compress::Markov<compress::Uniform>>({.compressor = {.bits = 4}}, wire);
    check_same<compress::Markov<compress::ScaledSign>>({}, wire);
    check_same<compress::ErrorFeedback<compress::TopK>>({.compressor = {.k = 3}}, wire);
  }
}

TEST_CASE("a runtime channel's state copies deeply and reloads from an archive", "[runtime]") {
  const Channel markov(
      runtime::channel<compress::Markov<compress::TopK>>({.compressor = {.k = 2}}));
  auto state = markov.make_state(10);
  Vector out(10);
  RandomStream rng(1, Purpose::compress);
  markov.send(state, test::awkward_vector(10, 1), out, rng);
  const std::string before = archived(state);
  auto copy = state;
  markov.send(copy, test::awkward_vector(10, 2), out, rng);
  CHECK(archived(state) == before);  // the original is untouched
  CHECK(archived(copy) != before);
  copy = state;  // assignment over an existing state reuses it
  CHECK(archived(copy) == before);
  CHECK(Channel::as<compress::Markov<compress::TopK>>(copy).started);

  auto fresh = markov.make_state(10);
  ArchiveReader reader(before, "test");
  reader(fresh);
  CHECK(reader.at_end());
  CHECK(archived(fresh) == before);

  // The default is the exact link.
  CHECK(Channel().describe() == compress::Identity().describe());
  CHECK_FALSE(Channel().keeps_state());
}

TEST_CASE("a run through runtime channels equals the compile-time run, checkpoints included",
          "[runtime]") {
  using Fixed = Method<skip::Never, compress::Markov<compress::TopK>, server::Sgd,
                       compress::Markov<compress::ScaledSign>>;
  using Chosen = Method<skip::Never, Channel, server::Sgd, Channel>;
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.3),
                                .batch = server::Batch::of(10)};
  const Fixed fixed{.uplink = {.compressor = {.k = 2}}, .server = sgd};
  const Chosen chosen{.uplink = runtime::channel<compress::Markov<compress::TopK>>(fixed.uplink),
                      .server = sgd,
                      .downlink = runtime::channel<compress::Markov<compress::ScaledSign>>()};
  test::check_same_run(fixed, chosen, "markov_both_ways");
}

// What the compile-time checks refuse of a stateful downlink, refused when it is chosen at
// run time; a stateless choice is accepted.
TEST_CASE("a stateful downlink chosen at run time is refused where the compile-time one is",
          "[runtime]") {
  const auto workers = test::logistic_workers(4, 200, 6);
  const auto markov = runtime::channel<compress::Markov<compress::ScaledSign>>();
  const auto sign = runtime::channel<compress::ScaledSign>();

  using Partial = Method<skip::Never, Channel, server::PeriodicAverage, Channel>;
  const server::PeriodicAverage::Params two_of_four{.participation =
                                                        server::Participation::sample(2)};
  const Partial partial_sign{.server = two_of_four, .downlink = sign};
  const Partial partial_markov{.server = two_of_four, .downlink = markov};
  CHECK(test::refusal([&] { sim::Simulation(partial_sign, workers, Vector::Zero(6)); }) ==
        "accepted");
  CHECK_THAT(test::refusal([&] { sim::Simulation(partial_markov, workers, Vector::Zero(6)); }),
             Catch::Contains("server.participation = sample(2): must be all workers when the "
                             "downlink keeps state"));

  using ServerSide = Method<skip::LasgPs, compress::Identity, server::Sgd, Channel>;
  ServerSide server_sign, server_markov;
  server_sign.downlink = sign;
  server_markov.downlink = markov;
  CHECK(test::refusal([&] { sim::Simulation(server_sign, workers, Vector::Zero(6)); }) ==
        "accepted");
  CHECK_THAT(test::refusal([&] { sim::Simulation(server_markov, workers, Vector::Zero(6)); }),
             Catch::Contains("downlink = markov(scaled_sign") &&
                 Catch::Contains("must be a stateless channel: a server-side skip rule"));
}
