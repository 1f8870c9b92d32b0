#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/top_k.hpp>

#include "compress/fixtures.hpp"

using namespace laconic;
using compress::Identity;

static_assert(compress::Compressor<Identity>);

TEST_CASE("Identity sends every coordinate as a 32- or 64-bit float", "[compress][identity]") {
  for (const int width : {32, 64}) {
    const Identity identity({}, {.float_bits = width});
    for (const Index p : test::contract_sizes()) {
      const Vector x = test::awkward_vector(p, 7);
      const Vector y = test::check_round_trip(identity, x, 1);
      CHECK(y == (width == 64 ? x : Vector(x.cast<float>().cast<double>())));
      RandomStream rng(0, Purpose::compress);
      CHECK(identity.encode(x, rng).bits == Bits{.values = static_cast<std::uint64_t>(p * width)});
      // At 64 bits the receiver has x itself: verbatim() says so, with the bits of a message.
      if (width == 64) {
        CHECK(identity.verbatim(p) == identity.encode(x, rng).bits);
        const compress::Stateless<Identity> link({}, {.float_bits = width});
        auto state = link.make_state(p);
        Vector out(p);
        CHECK(link.verbatim(p) == link.send(state, x, out, rng));
      } else {
        CHECK_FALSE(identity.verbatim(p).has_value());
      }
    }
    test::check_rejects_non_finite(identity, 5);
    test::check_rejects_truncation(identity, test::awkward_vector(9, 2));
  }
}

TEST_CASE("Identity refuses at 32 bits a finite coordinate beyond the float range",
          "[compress][identity]") {
  // FLT_MAX rounds to itself; from the midpoint to the next power of two on, to infinity.
  const double flt_max = std::numeric_limits<float>::max();
  Vector x(3);
  x << 1, -flt_max, 0x1.fffffefffffffp127;  // just below the midpoint: rounds to FLT_MAX
  const Identity narrow({}, {.float_bits = 32});
  CHECK(test::check_round_trip(narrow, x, 1)[2] == flt_max);
  x[2] = -0x1.ffffffp127;  // the midpoint
  Vector out(3);
  RandomStream rng(0, Purpose::compress);
  CHECK_THROWS_WITH(narrow.compress(x, out, rng),
                    Catch::Contains("identity: x[2]") && Catch::Contains("32-bit float"));
  CHECK_THROWS_AS(narrow.encode(x, rng), std::domain_error);
  CHECK(test::check_round_trip(Identity(), x, 1) == x);  // 64 bits carry it
}

TEST_CASE("Identity: invalid parameters name themselves, their value and the allowed range",
          "[compress][identity]") {
  const auto refused = [](int bits) {
    return test::refusal([&] { Identity({}, {.float_bits = bits}); });
  };
  CHECK_THAT(refused(16), Catch::Contains("float_bits = 16: must be 32 or 64"));
  CHECK(refused(32) == "accepted");
  CHECK(refused(64) == "accepted");
}

TEST_CASE("Identity's wire is the little-endian floats in coordinate order",
          "[compress][identity]") {
  Vector x(3);
  x << 1.5, -2.0, 0.25;
  RandomStream rng(0, Purpose::compress);
  const Identity narrow({}, {.float_bits = 32});
  CHECK(narrow.encode(x, rng).bytes == std::vector<std::uint8_t>{0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00,
                                                                 0x00, 0xC0, 0x00, 0x00, 0x80,
                                                                 0x3E});
  const Message wide = Identity().encode(x, rng);  // 64 bits by default
  REQUIRE(wide.bytes.size() == 24);
  CHECK(wide.bytes[7] == 0x3F);
  CHECK(wide.bytes[6] == 0xF8);
  // Sizes around the blocks the encoder stages on the stack.
  for (const Index p : {511, 512, 513, 1023, 1024, 1025}) {
    test::check_round_trip(narrow, test::awkward_vector(p, 3), 1);
    test::check_round_trip(Identity(), test::awkward_vector(p, 3), 1);
  }
}

// Found by fuzz_message (fuzz/message.cpp): a Markov<TopK> channel started exactly decoded its
// first message with Identity fp64 and handed on a NaN, which encode() never sends.
TEST_CASE("Identity refuses a message carrying a non-finite float", "[compress][identity]") {
  const auto bytes = [](std::initializer_list<int> b) {
    Message m;
    for (const int v : b) m.bytes.push_back(static_cast<std::uint8_t>(v));
    return m;
  };
  Vector out(1);
  const Message nan64 = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  CHECK_THROWS_AS(Identity().decode(nan64, out), DecodeError);
  CHECK_THROWS_WITH(Identity().decode(nan64, out),
                    Catch::Contains("identity: coordinate 0 is not finite"));
  const Message inf32 = bytes({0x00, 0x00, 0x80, 0x7f});
  CHECK_THROWS_AS(Identity({}, {.float_bits = 32}).decode(inf32, out), DecodeError);
  out.resize(3);
  const Message one_inf64 = bytes({0, 0, 0, 0, 0, 0, 0xf0, 0x3f,    // 1
                                   0, 0, 0, 0, 0, 0, 0xf0, 0xff,    // -inf
                                   0, 0, 0, 0, 0, 0, 0xf0, 0x3f});  // 1
  CHECK_THROWS_WITH(Identity().decode(one_inf64, out),
                    Catch::Contains("coordinate 1 is not finite"));

  // And through the channel where the fuzzer met it.
  const compress::Markov<compress::TopK> markov(
      {.compressor = {.k = 1}, .start = compress::Markov<compress::TopK>::Start::exact});
  auto receiver = markov.make_state(1);
  out.resize(1);
  RandomStream senders(0, Purpose::compress);
  CHECK_THROWS_AS(markov.decode(receiver, nan64, out, senders), DecodeError);
}
