// compress::check_contract (compress/check.hpp): every shipped compressor passes it, and it
// names each way a deliberately broken compressor breaks the contract.

#include <laconic/compress/check.hpp>
#include <laconic/compress/fp16.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>

#include "compress/fixtures.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace laconic;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// The ways Floats below can be broken, one at a time.
enum class Fault {
  none,
  decode_differs,      // decode() nudges x[p/2] up by one ulp
  decode_skips,        // decode() leaves out[0] as it was
  decode_refuses,      // decode() throws on every message
  bits_miscounted,     // compress() returns one value bit too many
  bytes_miscounted,    // encode() counts 8 metadata bits it never writes
  extra_draw,          // compress() draws one random number more than encode()
  stateful,            // encode() adds the number of earlier calls to x[0]
  accepts_truncated,   // decode() zero-fills what is missing and ignores what is extra
  accepts_non_finite,  // no finiteness check
  wrong_exception,     // refuses a non-finite x with std::invalid_argument
};

// x as 32-bit floats, after one draw from the stream (to give encode and compress something to
// agree on): an honest compressor when fault = none.
class Floats {
 public:
  struct Params {
    Fault fault = Fault::none;
  };

  Floats() : Floats(Params{}) {}
  explicit Floats(const Params& params, const compress::Wire& = {}) : fault_(params.fault) {}

  bool unbiased() const { return false; }
  std::string describe() const { return "floats"; }

  Message encode(const Vector& x, RandomStream& rng) const {
    refuse_non_finite(x);
    rng.next_u64();
    Message message;
    BitWriter writer(message);
    for (Index i = 0; i < x.size(); ++i) {
      const double shift = fault_ == Fault::stateful && i == 0 ? static_cast<double>(calls_++) : 0;
      writer.write_f32(static_cast<float>(x[i] + shift), Field::values);
    }
    writer.finish();
    if (fault_ == Fault::bytes_miscounted) message.bits.metadata += 8;
    return message;
  }

  void decode(const Message& message, Vector& out) const {
    if (fault_ == Fault::decode_refuses) throw DecodeError("floats: refuses everything");
    BitReader reader(message.bytes);
    const bool lenient = fault_ == Fault::accepts_truncated;
    for (Index i = 0; i < out.size(); ++i) {
      if (fault_ == Fault::decode_skips && i == 0) {
        reader.read(32);
      } else if (lenient && reader.remaining() < 32) {
        out[i] = 0;
      } else {
        out[i] = static_cast<double>(reader.read_f32());
      }
    }
    if (!lenient) reader.expect_end();
    if (fault_ == Fault::decode_differs) {
      const Index j = out.size() / 2;
      out[j] = std::nextafter(out[j], std::numeric_limits<double>::infinity());
    }
  }

  Bits compress(const Vector& x, Vector& out, RandomStream& rng) const {
    refuse_non_finite(x);
    rng.next_u64();
    if (fault_ == Fault::extra_draw) rng.next_u64();
    out = x.cast<float>().cast<double>();
    const auto bits = static_cast<std::uint64_t>(32 * x.size());
    return Bits{.values = fault_ == Fault::bits_miscounted ? bits + 1 : bits};
  }

 private:
  void refuse_non_finite(const Vector& x) const {
    if (fault_ == Fault::accepts_non_finite || all_finite(x)) return;
    if (fault_ == Fault::wrong_exception) throw std::invalid_argument("floats: not finite");
    throw std::domain_error("floats: not finite");
  }

  Fault fault_;
  mutable std::uint64_t calls_ = 0;  // Fault::stateful only
};
static_assert(compress::Compressor<Floats>);

std::vector<std::string> violations(Fault fault, Index p = 5) {
  const Floats floats({.fault = fault});
  return compress::contract_violations(floats, test::awkward_vector(p, 4), 9);
}

}  // namespace

TEST_CASE("check_contract passes every shipped compressor", "[compress][check]") {
  using namespace compress;
  const auto passes = [](const auto& c) {
    for (const Index p : {Index{1}, Index{2}, Index{7}, Index{64}, Index{1000}}) {
      for (const std::uint64_t seed : {1, 2}) {
        const Vector x = test::awkward_vector(p, seed);
        INFO(c.describe() << ", p = " << p << ", seed " << seed);
        test::check_no_violations(contract_violations(c, x, seed), p);
        CHECK_NOTHROW(check_contract(c, x, seed));
      }
    }
  };
  for (const int width : {32, 64}) {
    const Wire wire{.float_bits = width};
    passes(Identity({}, wire));
    passes(Fp16({}, wire));
    for (const auto encoding : {Qsgd::Encoding::fixed, Qsgd::Encoding::elias,
                                Qsgd::Encoding::cheaper, Qsgd::Encoding::elias_gamma}) {
      passes(Qsgd({.levels = 1, .encoding = encoding}, wire));
      passes(Qsgd({.levels = 7, .encoding = encoding}, wire));
    }
    passes(Uniform({.bits = 1}, wire));
    passes(Uniform({.bits = 4}, wire));
    passes(TopK({.k = 1}, wire));
    passes(TopK({.fraction = 0.3}, wire));
    for (const bool scaled : {false, true}) {
      for (const bool shared : {false, true}) {
        passes(RandK({.k = 1, .scaled = scaled, .shared_seed = shared}, wire));
        passes(RandK({.fraction = 0.5, .scaled = scaled, .shared_seed = shared}, wire));
      }
    }
    passes(ScaledSign({}, wire));
  }
  // And the honest version of the compressor the other tests break.
  passes(Floats());
}

TEST_CASE("check_contract catches a decode that disagrees with compress", "[compress][check]") {
  const std::vector<std::string> found = violations(Fault::decode_differs, 5);
  REQUIRE(found.size() == 1);
  CHECK_THAT(found[0], StartsWith("decode(encode(x)) and compress(x) differ at 1 of 5 coordinates, "
                                  "first at 2:"));
  // A coordinate decode() leaves alone is named as such (out held a NaN marker, not 0).
  const std::vector<std::string> skipped = violations(Fault::decode_skips, 5);
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0] == "decode() did not write coordinate 0 of its output");
  // A decode that refuses its own encoder's message.
  const std::vector<std::string> refused = violations(Fault::decode_refuses, 5);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0] == "decode(encode(x)) threw: floats: refuses everything");
}

TEST_CASE("check_contract catches a wrong bit count", "[compress][check]") {
  const std::vector<std::string> found = violations(Fault::bits_miscounted, 5);
  REQUIRE(found.size() == 1);
  CHECK(found[0] ==
        "compress(x) returned the bits {values 161, indices 0, metadata 0} but encode(x)'s message "
        "counts {values 160, indices 0, metadata 0}");
  // Bits counted that are not in the bytes: 168 bits in 20 bytes (and compress disagrees).
  const std::vector<std::string> bytes = violations(Fault::bytes_miscounted, 5);
  REQUIRE(bytes.size() == 2);
  CHECK(bytes[0] ==
        "encode(x) wrote 20 bytes for the 168 bits it counts {values 160, indices 0, metadata 8}: "
        "a message is exactly its bits rounded up to whole bytes, 21 bytes");
  CHECK_THAT(bytes[1], StartsWith("compress(x) returned the bits {values 160,"));
}

TEST_CASE("check_contract catches random numbers drawn differently", "[compress][check]") {
  const std::vector<std::string> found = violations(Fault::extra_draw);
  REQUIRE(found.size() == 1);
  CHECK(found[0] ==
        "compress(x) left the random stream at position 2 and encode(x) at 1: both must draw the "
        "same random numbers");
  // Hidden state: the second encode() from the same stream differs.
  const std::vector<std::string> stateful = violations(Fault::stateful);
  REQUIRE(stateful.size() == 1);
  CHECK_THAT(stateful[0], StartsWith("encode(x) called a second time from the same stream wrote "
                                     "another message"));
}

TEST_CASE("check_contract catches a decode that accepts a truncated or longer message",
          "[compress][check]") {
  // p = 5: 20 bytes, cut to 0, 10 and 19, and 21 with a zero byte.
  const std::vector<std::string> found = violations(Fault::accepts_truncated, 5);
  REQUIRE(found.size() == 4);
  CHECK(found[0] ==
        "decode() of encode(x)'s message cut to 0 of its 20 bytes returned: it must throw "
        "laconic::DecodeError");
  CHECK_THAT(found[1], StartsWith("decode() of encode(x)'s message cut to 10 of its 20 bytes"));
  CHECK_THAT(found[2], StartsWith("decode() of encode(x)'s message cut to 19 of its 20 bytes"));
  CHECK(found[3] ==
        "decode() of encode(x)'s 20 bytes with a zero byte appended returned: it must throw "
        "laconic::DecodeError");
  // p = 1: 4 bytes, cut to 0 and 2 (half) and 3.
  CHECK(violations(Fault::accepts_truncated, 1).size() == 4);
}

TEST_CASE("check_contract catches a non-finite x accepted or refused the wrong way",
          "[compress][check]") {
  // ∞, −∞ and NaN, each by encode() and by compress().
  const std::vector<std::string> found = violations(Fault::accepts_non_finite, 5);
  REQUIRE(found.size() == 6);
  CHECK(found[0] == "encode(x) with x[2] = inf returned: it must throw std::domain_error");
  CHECK(found[1] == "compress(x) with x[2] = inf returned: it must throw std::domain_error");
  CHECK(found[3] == "compress(x) with x[2] = -inf returned: it must throw std::domain_error");
  CHECK(found[4] == "encode(x) with x[2] = nan returned: it must throw std::domain_error");
  const std::vector<std::string> wrong = violations(Fault::wrong_exception, 5);
  REQUIRE(wrong.size() == 6);
  CHECK(wrong[0] ==
        "encode(x) with x[2] = inf threw another exception (floats: not finite) instead of "
        "std::domain_error");
}

TEST_CASE("check_contract throws std::logic_error naming the compressor, p and the violations",
          "[compress][check]") {
  const Floats broken({.fault = Fault::extra_draw});
  const Vector x = test::awkward_vector(3, 1);
  CHECK_THROWS_WITH(compress::check_contract(broken, x, 9),
                    "floats breaks the Compressor contract at p = 3: compress(x) left the random "
                    "stream at position 2 and encode(x) at 1: both must draw the same random "
                    "numbers");
  CHECK_THROWS_AS(compress::check_contract(broken, x, 9), std::logic_error);
  // Every violation, separated by "; ".
  const Floats lax({.fault = Fault::accepts_non_finite});
  CHECK_THROWS_WITH(compress::check_contract(lax, x, 9),
                    Contains("x[1] = inf returned") && Contains("; compress(x) with x[1] = nan"));
  CHECK_NOTHROW(compress::check_contract(Floats(), x, 9));
}

TEST_CASE("check_contract's parts (ContractCheck) start from the sender's stream and accumulate",
          "[compress][check]") {
  // RandK with a shared seed decodes only with the sender's stream: a check that gave the
  // receiver another stream would find a difference.
  const compress::RandK rand({.k = 3, .shared_seed = true});
  const Vector x = test::awkward_vector(50, 6);
  const RandomStream sender(4, Purpose::compress, 17, 2);
  compress::ContractCheck check(rand, sender);
  const Vector y = check.round_trip(x);
  CHECK(check.ok());
  Vector z(50);
  RandomStream rng = sender;
  rand.compress(x, z, rng);
  CHECK(y == z);
  Index kept = 0;
  for (Index i = 0; i < 50; ++i) kept += y[i] != 0 ? 1 : 0;
  CHECK(kept == 3);
  // A second input adds to what was found; all() runs the three groups.
  const Floats lax({.fault = Fault::accepts_non_finite});
  compress::ContractCheck lax_check(lax, sender);
  lax_check.all(x);
  lax_check.all(test::awkward_vector(7, 1));
  CHECK(lax_check.violations().size() == 12);
  CHECK_FALSE(lax_check.ok());
}
