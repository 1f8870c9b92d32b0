#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/rand_k.hpp>

#include "compress/fixtures.hpp"

#include <algorithm>
#include <map>
#include <vector>

using namespace laconic;
using compress::RandK;

static_assert(compress::Compressor<RandK>);

namespace {

std::uint64_t ceil_log2(Index p) {
  std::uint64_t width = 0;
  while ((Index{1} << width) < p) ++width;
  return width;
}

Bits formula(Index p, Index k, int float_bits, bool shared_seed) {
  const auto values = static_cast<std::uint64_t>(k * float_bits);
  if (shared_seed) return Bits{.values = values};
  const std::uint64_t coo = static_cast<std::uint64_t>(k) * ceil_log2(p);
  return Bits{
      .values = values, .indices = std::min(coo, static_cast<std::uint64_t>(p)), .metadata = 1};
}

bool same_bits(const Vector& a, const Vector& b) {
  if (a.size() != b.size()) return false;
  for (Index i = 0; i < a.size(); ++i) {
    if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return false;
  }
  return true;
}

// The shared-seed round trip: decode with a copy of the sender's stream equals compress, and
// both streams advance as encode's did. Returns the decoded vector.
Vector check_shared_round_trip(const RandK& c, const Vector& x, std::uint64_t seed) {
  RandomStream rng_encode(seed, Purpose::compress, 3, 5);
  RandomStream rng_decode = rng_encode;
  RandomStream rng_compress = rng_encode;
  const Message message = c.encode(x, rng_encode);
  Vector decoded = Vector::Constant(x.size(), std::numeric_limits<double>::quiet_NaN());
  c.decode(message, decoded, rng_decode);
  Vector fast = Vector::Constant(x.size(), std::numeric_limits<double>::quiet_NaN());
  const Bits bits = c.compress(x, fast, rng_compress);
  CHECK(bits == message.bits);
  CHECK(message.bytes.size() == (message.bits.total() + 7) / 8);
  CHECK(rng_encode.position() == rng_compress.position());
  CHECK(rng_decode.position() == rng_encode.position());
  CHECK(same_bits(decoded, fast));
  return decoded;
}

// Checks that y keeps exactly k coordinates of x (times `factor`, float-rounded), zeroing the
// rest; returns the kept indices. Coordinates where x is 0 count as kept when y is 0 too, so
// this is applied to x without zeros.
std::vector<Index> kept_of(const Vector& x, const Vector& y, double factor, int float_bits) {
  std::vector<Index> kept;
  for (Index i = 0; i < x.size(); ++i) {
    if (y[i] != 0) {
      const double sent = float_bits == 32 ? static_cast<double>(static_cast<float>(x[i])) : x[i];
      CHECK(y[i] == factor * sent);
      kept.push_back(i);
    }
  }
  return kept;
}

}  // namespace

TEST_CASE("RandK round trips at every contract size and k", "[compress][rand_k]") {
  for (const bool scaled : {false, true}) {
    for (const int width : {32, 64}) {
      for (const Index p : test::contract_sizes()) {
        Vector x = test::awkward_vector(p, 13);
        std::vector<Index> ks{1, p};
        if (p > 2) ks.insert(ks.end(), {2, p / 2, p - 1});
        if (p >= 1000) ks.insert(ks.end(), {p / 100, p / 10});
        for (const Index k : ks) {
          INFO("p = " << p << ", k = " << k << ", fp" << width << ", scaled " << scaled);
          for (const bool shared : {false, true}) {
            const RandK rand({.k = k, .scaled = scaled, .shared_seed = shared},
                             {.float_bits = width});
            const Vector y =
                shared ? check_shared_round_trip(rand, x, 1) : test::check_round_trip(rand, x, 1);
            RandomStream rng(0, Purpose::compress);
            CHECK(rand.encode(x, rng).bits == formula(p, k, width, shared));
            CHECK(rand.bits(p) == formula(p, k, width, shared));
            // The same draw with and without shared_seed.
            const RandK other({.k = k, .scaled = scaled, .shared_seed = !shared},
                              {.float_bits = width});
            Vector z(p);
            RandomStream rng_other(1, Purpose::compress, 3, 5);
            other.compress(x, z, rng_other);
            CHECK(same_bits(y, z));
          }
        }
      }
    }
  }
}

TEST_CASE("RandK keeps exactly k coordinates, scaled by p/k when asked", "[compress][rand_k]") {
  for (const Index p : {Index{1}, Index{9}, Index{64}, Index{1000}}) {
    Vector x(p);
    RandomStream data(p, Purpose::user);
    for (Index i = 0; i < p; ++i) x[i] = 1 + std::abs(data.normal());
    for (const Index k : {Index{1}, (p + 1) / 2, p}) {
      for (const bool scaled : {false, true}) {
        const RandK rand({.k = k, .scaled = scaled});
        RandomStream rng(7, Purpose::compress);
        Vector y(p);
        rand.compress(x, y, rng);
        const double factor = scaled ? static_cast<double>(p) / static_cast<double>(k) : 1.0;
        CHECK(kept_of(x, y, factor, 64).size() == static_cast<std::size_t>(k));
        // Exactly k draws, whatever x is.
        RandomStream words(7, Purpose::compress);
        for (Index n = 0; n < k; ++n) words.below(static_cast<std::uint64_t>(p - k + n + 1));
        CHECK(rng.position() == words.position());
      }
    }
  }
  // p = 0 with a fraction keeps nothing.
  const RandK empty({.fraction = 0.5});
  CHECK(empty.count(0) == 0);
  test::check_round_trip(empty, Vector(0), 0);
  // A fraction, and compress into x itself.
  const RandK rand({.fraction = 0.25, .scaled = true});
  Vector x = Vector::LinSpaced(8, 1, 8);
  const Vector original = x;
  RandomStream rng(3, Purpose::compress);
  rand.compress(x, x, rng);
  CHECK(kept_of(original, x, 4.0, 64).size() == 2);
}

TEST_CASE("RandK chooses indices uniformly", "[compress][rand_k]") {
  // Marginals: over T independent draws each index is kept ~ Binomial(T, k/p), so each term
  // of the statistic below has mean 1: the sum has mean p and a standard deviation of about
  // sqrt(2p).
  {
    const Index p = 200;
    const Index k = 17;
    const int trials = 20000;
    const RandK rand({.k = k});
    std::vector<int> counts(p, 0);
    const Vector x = Vector::Ones(p);
    Vector y(p);
    for (int t = 0; t < trials; ++t) {
      RandomStream rng(42, Purpose::compress, static_cast<std::uint64_t>(t));
      rand.compress(x, y, rng);
      for (Index i = 0; i < p; ++i) counts[static_cast<std::size_t>(i)] += y[i] != 0 ? 1 : 0;
    }
    const double q = static_cast<double>(k) / p;
    const double expected = trials * q;
    double chi2 = 0;
    for (const int c : counts) chi2 += (c - expected) * (c - expected) / (expected * (1 - q));
    INFO("chi-square " << chi2 << " over " << p << " indices");
    CHECK(std::abs(chi2 - static_cast<double>(p)) < 5 * std::sqrt(2.0 * p));
  }
  // Subsets: every 2-subset of 6 equally likely (15 subsets, 14 degrees of freedom).
  {
    const RandK rand({.k = 2});
    std::map<std::pair<Index, Index>, int> counts;
    const int trials = 30000;
    const Vector x = Vector::Ones(6);
    Vector y(6);
    for (int t = 0; t < trials; ++t) {
      RandomStream rng(43, Purpose::compress, static_cast<std::uint64_t>(t));
      rand.compress(x, y, rng);
      std::vector<Index> kept;
      for (Index i = 0; i < 6; ++i) {
        if (y[i] != 0) kept.push_back(i);
      }
      REQUIRE(kept.size() == 2);
      ++counts[{kept[0], kept[1]}];
    }
    REQUIRE(counts.size() == 15);
    const double expected = trials / 15.0;
    double chi2 = 0;
    for (const auto& [subset, c] : counts) chi2 += (c - expected) * (c - expected) / expected;
    INFO("chi-square " << chi2 << " over 15 subsets");
    CHECK(chi2 < 40);  // the 99.97% quantile of chi-square(14) is about 38
  }
}

TEST_CASE("Scaled RandK is unbiased; unscaled keeps (1 - k/p) of the squared norm",
          "[compress][rand_k]") {
  const Index p = 20;
  const Index k = 5;
  Vector x(p);
  RandomStream data(9, Purpose::user);
  for (Index i = 0; i < p; ++i) x[i] = data.normal();
  x[3] = 0;
  const int trials = 40000;
  const double q = static_cast<double>(k) / p;

  const RandK scaled({.k = k, .scaled = true});
  const RandK unscaled({.k = k});
  CHECK(scaled.unbiased());
  CHECK_FALSE(unscaled.unbiased());
  Vector sum = Vector::Zero(p);
  double error_sum = 0;
  double error_square_sum = 0;
  double scaled_error_sum = 0;
  Vector y(p);
  for (int t = 0; t < trials; ++t) {
    RandomStream rng(5, Purpose::compress, static_cast<std::uint64_t>(t), 2);
    RandomStream same = rng;
    scaled.compress(x, y, rng);
    sum += y;
    scaled_error_sum += (y - x).squaredNorm();
    unscaled.compress(x, y, same);
    const double error = (y - x).squaredNorm();
    error_sum += error;
    error_square_sum += error * error;
  }
  // Mean of the scaled coordinates: each is (p/k) x_i with probability k/p, so its standard
  // deviation is |x_i| sqrt(p/k - 1).
  for (Index i = 0; i < p; ++i) {
    const double mean = sum[i] / trials;
    const double standard_error = std::abs(x[i]) * std::sqrt(1 / q - 1) / std::sqrt(trials);
    INFO("coordinate " << i << ": mean " << mean << ", x_i " << x[i]);
    CHECK(std::abs(mean - x[i]) <= 4 * standard_error + 1e-15);
  }
  // The unscaled error, and the scaled one (ω = p/k - 1).
  const double mean_error = error_sum / trials;
  const double error_sd = std::sqrt(error_square_sum / trials - mean_error * mean_error);
  INFO("mean error " << mean_error << ", expected " << (1 - q) * x.squaredNorm());
  CHECK(std::abs(mean_error - (1 - q) * x.squaredNorm()) <= 4 * error_sd / std::sqrt(trials));
  CHECK(scaled_error_sum / trials == Approx((1 / q - 1) * x.squaredNorm()).epsilon(0.05));
}

TEST_CASE("RandK with shared_seed sends only the values", "[compress][rand_k]") {
  const RandK rand({.k = 4, .shared_seed = true}, {.float_bits = 32});
  const Vector x = test::awkward_vector(100, 3);
  RandomStream rng(1, Purpose::compress);
  const Message message = rand.encode(x, rng);
  CHECK(message.bits == Bits{.values = 4 * 32});
  CHECK(message.bytes.size() == 16);
  CHECK(rand.decode_needs_rng());
  CHECK_FALSE(RandK({.k = 4}).decode_needs_rng());
  Vector out(100);
  CHECK_THROWS_AS(rand.decode(message, out), std::logic_error);
  CHECK_THROWS_WITH(rand.decode(message, out), Catch::Contains("shared_seed"));

  // Truncated or lengthened messages, and a non-finite value.
  for (const std::size_t keep : {std::size_t{0}, std::size_t{8}, std::size_t{15}}) {
    Message cut = message;
    cut.bytes.resize(keep);
    RandomStream again(1, Purpose::compress);
    CHECK_THROWS_AS(rand.decode(cut, out, again), DecodeError);
  }
  Message longer = message;
  longer.bytes.push_back(0);
  RandomStream again(1, Purpose::compress);
  CHECK_THROWS_AS(rand.decode(longer, out, again), DecodeError);
  Message bad = message;
  bad.bytes[4] = 0;
  bad.bytes[5] = 0;
  bad.bytes[6] = 0x80;
  bad.bytes[7] = 0x7F;  // +inf
  RandomStream third(1, Purpose::compress);
  CHECK_THROWS_WITH(rand.decode(bad, out, third), Catch::Contains("non-finite"));

  // Without shared_seed the three-argument decode ignores the stream.
  const RandK plain({.k = 4});
  RandomStream sender(1, Purpose::compress);
  const Message with_indices = plain.encode(x, sender);
  RandomStream unrelated(99, Purpose::user);
  Vector a(100);
  Vector b(100);
  plain.decode(with_indices, a, unrelated);
  plain.decode(with_indices, b);
  CHECK(same_bits(a, b));
  CHECK(unrelated.position() == 0);
}

// Each receiving end redraws the indices from the sender's stream, which it builds from the
// same (seed, purpose, round, worker): through a plain link, Markov (EF21) and error feedback.
TEST_CASE("RandK with a shared seed decodes through every channel", "[compress][rand_k]") {
  const RandK::Params shared{.k = 3, .shared_seed = true};
  test::check_ends_agree(compress::Stateless<RandK>(shared), 50, 20, 7,
                         [](const auto&, const auto&, const auto&) { return true; });
  test::check_ends_agree(compress::Markov<RandK>({.compressor = shared}), 50, 20, 7,
                         [](const auto& all, const auto& sender, const auto& receiver) {
                           return sender.estimate == receiver.estimate &&
                                  sender.estimate == all.estimate;
                         });
  test::check_ends_agree(
      compress::ErrorFeedback<RandK>({.compressor = shared}), 50, 20, 7,
      [](const auto& all, const auto& sender, const auto&) { return sender.error == all.error; });
  // The values alone: k floats of the link's width, counted 32 each the papers' way.
  const compress::Markov<RandK> ef21({.compressor = shared}, {.float_bits = 32});
  auto sender = ef21.make_state(50);
  RandomStream rng(1, Purpose::compress);
  const Message message = ef21.encode(sender, test::awkward_vector(50, 3), rng);
  CHECK(message.bits == Bits{.values = 3 * 32, .paper = 3 * 32});
}

TEST_CASE("RandK rejects malformed messages and non-finite input", "[compress][rand_k]") {
  for (const Index k : {Index{1}, Index{3}, Index{600}}) {
    const RandK rand({.k = k, .scaled = true});
    test::check_rejects_non_finite(rand, 5 + k);
    const Vector x = test::awkward_vector(1000, 6);
    test::check_rejects_truncation(rand, x);
    RandomStream rng(0, Purpose::compress);
    Message flipped = rand.encode(x, rng);
    flipped.bytes[0] ^= 1;
    Vector out(1000);
    CHECK_THROWS_WITH(rand.decode(flipped, out), Catch::Contains("bad header"));
  }
  test::check_rejects_non_finite(RandK({.k = 2, .shared_seed = true}), 5);

  // Indices out of range or out of order (p = 1000: a list of ten-bit indices).
  const RandK rand({.k = 2}, {.float_bits = 32});
  const auto coo = [](std::uint64_t a, std::uint64_t b) {
    Message message;
    BitWriter writer(message);
    writer.write(0, 1, Field::metadata);
    writer.write(a, 10, Field::indices);
    writer.write(b, 10, Field::indices);
    writer.write_f32(1, Field::values);
    writer.write_f32(2, Field::values);
    writer.finish();
    return message;
  };
  Vector out(1000);
  CHECK_NOTHROW(rand.decode(coo(3, 999), out));
  CHECK(out[999] == 2);
  CHECK_THROWS_WITH(rand.decode(coo(3, 1000), out), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(rand.decode(coo(3, 3), out), Catch::Contains("not strictly ascending"));
  CHECK_THROWS_WITH(rand.decode(coo(4, 3), out), Catch::Contains("not strictly ascending"));

  // A scaled value that overflows a double is refused at both ends.
  Vector huge = Vector::Constant(4, 1e308);
  RandomStream rng(0, Purpose::compress);
  Vector y(4);
  const RandK scaled64({.k = 1, .scaled = true});
  CHECK_THROWS_AS(scaled64.compress(huge, y, rng), std::domain_error);
  CHECK_THROWS_AS(RandK({.k = 4}, {.float_bits = 32}).encode(huge, rng),
                  std::domain_error);  // beyond float
  Message message;
  BitWriter writer(message);
  writer.write(0, 1, Field::metadata);
  writer.write(2, 2, Field::indices);
  writer.write_f64(1e308, Field::values);
  writer.finish();
  CHECK_THROWS_WITH(scaled64.decode(message, y), Catch::Contains("overflows"));
}

TEST_CASE("RandK: invalid parameters name themselves, their value and the allowed range",
          "[compress][rand_k]") {
  using Catch::Contains;
  const auto refused = [](RandK::Params params) { return test::refusal([&] { RandK{params}; }); };
  CHECK_THAT(refused({}), Contains("rand_k.k = 0: must be ≥ 1, or set rand_k.fraction"));
  CHECK_THAT(refused({.k = 2, .fraction = 0.5}),
             Contains("rand_k.fraction = 0.5: must be 0 when rand_k.k is set"));
  CHECK_THAT(refused({.fraction = 2}), Contains("rand_k.fraction = 2: must be in (0, 1]"));
  CHECK_THAT(refused({.fraction = std::nan("")}), Contains("rand_k.fraction = nan: must be in"));
  CHECK_THAT(refused({.k = -3}), Contains("rand_k.k = -3: must be ≥ 1"));
  CHECK_THAT(test::refusal([] { RandK({.k = 1}, {.float_bits = 8}); }),
             Contains("float_bits = 8: must be 32 or 64"));
  CHECK(refused({.k = 1, .scaled = true, .shared_seed = true}) == "accepted");
  CHECK(refused({.fraction = 1}) == "accepted");
  CHECK_THAT(test::refusal([] { compress::require_dimension(RandK({.k = 6}), 5); }),
             Contains("rand_k.k = 6: must be at most the dimension p = 5"));
  CHECK(test::refusal([] { compress::require_dimension(RandK({.k = 5}), 5); }) == "accepted");
  const RandK rand({.k = 6, .shared_seed = true});
  Vector x = Vector::Ones(5);
  RandomStream rng(0, Purpose::compress);
  CHECK_THROWS_WITH(rand.encode(x, rng),
                    Catch::Contains("rand_k.k = 6") && Catch::Contains("p = 5"));
  CHECK(rand.describe() == "rand_k(k=6, shared_seed, fp64)");
  CHECK(RandK({.fraction = 0.1, .scaled = true}, {.float_bits = 32}).describe() ==
        "rand_k(fraction=0.1, scaled, fp32)");
}
