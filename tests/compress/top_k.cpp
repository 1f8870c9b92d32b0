#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/top_k.hpp>

#include "compress/fixtures.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

using namespace laconic;
using compress::TopK;

static_assert(compress::Compressor<TopK>);

namespace {

// ⌈log₂ p⌉ by counting.
std::uint64_t ceil_log2(Index p) {
  std::uint64_t width = 0;
  while ((Index{1} << width) < p) ++width;
  return width;
}

// The bits of a k-of-p sparse message, from the formula.
Bits sparse_formula(Index p, Index k, int float_bits) {
  const std::uint64_t coo = static_cast<std::uint64_t>(k) * ceil_log2(p);
  const auto mask = static_cast<std::uint64_t>(p);
  return Bits{.values = static_cast<std::uint64_t>(k * float_bits),
              .indices = std::min(coo, mask),
              .metadata = 1};
}

// Top-k by a stable sort: |x| descending, ties in index order.
Vector sort_reference(const Vector& x, Index k, int float_bits) {
  std::vector<Index> order(static_cast<std::size_t>(x.size()));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](Index a, Index b) { return std::abs(x[a]) > std::abs(x[b]); });
  Vector y = Vector::Zero(x.size());
  for (Index n = 0; n < k; ++n) {
    const Index i = order[static_cast<std::size_t>(n)];
    y[i] = float_bits == 32 ? static_cast<double>(static_cast<float>(x[i])) : x[i];
  }
  return y;
}

// Bitwise equality of two vectors.
bool same_bits(const Vector& a, const Vector& b) {
  if (a.size() != b.size()) return false;
  for (Index i = 0; i < a.size(); ++i) {
    if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return false;
  }
  return true;
}

// A message written by hand: flag, indices and values.
Message handmade(bool coo, const std::vector<std::uint64_t>& indices, int width,
                 const std::vector<float>& values) {
  Message message;
  BitWriter writer(message);
  writer.write(coo ? 0 : 1, 1, Field::metadata);
  for (const std::uint64_t index : indices) writer.write(index, width, Field::indices);
  for (const float value : values) writer.write_f32(value, Field::values);
  writer.finish();
  return message;
}

}  // namespace

TEST_CASE("TopK round trips at every contract size and k", "[compress][top_k]") {
  for (const int width : {32, 64}) {
    for (const Index p : test::contract_sizes()) {
      const Vector x = test::awkward_vector(p, 11);
      std::vector<Index> ks{1, p};
      if (p > 2) ks.insert(ks.end(), {2, p / 2, p - 1});
      if (p >= 1000) ks.insert(ks.end(), {p / 100, p / 10, p / 16, p / 16 + 1});
      for (const Index k : ks) {
        INFO("p = " << p << ", k = " << k << ", fp" << width);
        const TopK top({.k = k}, {.float_bits = width});
        const Vector y = test::check_round_trip(top, x, 1);
        CHECK(same_bits(y, sort_reference(x, k, width)));
        RandomStream rng(0, Purpose::compress);
        CHECK(top.encode(x, rng).bits == sparse_formula(p, k, width));
        CHECK(top.bits(p) == sparse_formula(p, k, width));
      }
    }
  }
}

TEST_CASE("TopK with a fraction keeps max(1, floor(fraction p))", "[compress][top_k]") {
  for (const double fraction : {0.001, 0.01, 0.29, 0.5, 1.0}) {
    const TopK top({.fraction = fraction});
    for (const Index p : test::contract_sizes()) {
      const Index k = std::max<Index>(1, static_cast<Index>(fraction * static_cast<double>(p)));
      INFO("p = " << p << ", fraction = " << fraction);
      CHECK(top.count(p) == k);
      const Vector x = test::awkward_vector(p, 4);
      const Vector y = test::check_round_trip(top, x, 2);
      CHECK(same_bits(y, sort_reference(x, k, 64)));
      CHECK(top.bits(p) == sparse_formula(p, k, 64));
    }
  }
  // 0.29 · 100 is 28.999... in double, so 28 are kept, as CD-Adam's int(K*d) would.
  CHECK(TopK({.fraction = 0.29}).count(100) == 28);
}

TEST_CASE("TopK equals a stable-sort reference under many ties", "[compress][top_k]") {
  // Integers in [-3, 3] at sizes on both sides of the sampling path, and sorted or periodic
  // data that a sample could misjudge.
  for (const Index p : {Index{50}, Index{5000}, Index{65536}, Index{200000}, Index{300001}}) {
    for (std::uint64_t seed = 0; seed < 3; ++seed) {
      RandomStream rng(seed, Purpose::user);
      Vector x(p);
      for (Index i = 0; i < p; ++i) x[i] = static_cast<double>(rng.below(7)) - 3;
      Vector ramp(p);
      for (Index i = 0; i < p; ++i) ramp[i] = static_cast<double>(i % 1000) * (i % 2 ? 1 : -1);
      Vector spikes = Vector::Zero(p);
      for (Index i = 0; i < p; i += 4096) spikes[i] = 1;
      for (const Index k : {Index{1}, Index{3}, p / 100 + 1, p / 16, p / 3}) {
        if (k < 1) continue;
        INFO("p = " << p << ", k = " << k << ", seed " << seed);
        const TopK top({.k = k});
        for (const Vector* v : {&x, &ramp, &spikes}) {
          RandomStream unused(0, Purpose::compress);
          Vector y(p);
          top.compress(*v, y, unused);
          CHECK(same_bits(y, sort_reference(*v, k, 32)));
        }
      }
    }
  }
}

TEST_CASE("TopK selection does not depend on the order of earlier calls", "[compress][top_k]") {
  const TopK top({.k = 50});
  const Vector big = test::awkward_vector(300000, 1);
  const Vector small = test::awkward_vector(1000, 2);
  RandomStream rng(0, Purpose::compress);
  Vector first(1000);
  top.compress(small, first, rng);
  Vector ignored(300000);
  top.compress(big, ignored, rng);
  Vector second(1000);
  top.compress(small, second, rng);
  CHECK(same_bits(first, second));
  // compress into x itself.
  Vector x = small;
  top.compress(x, x, rng);
  CHECK(same_bits(x, first));
}

TEST_CASE("TopK contracts by (1 - k/p)", "[compress][top_k]") {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    RandomStream rng(seed, Purpose::user);
    const auto p = static_cast<Index>(1 + rng.below(300));
    const auto k = static_cast<Index>(1 + rng.below(static_cast<std::uint64_t>(p)));
    Vector x(p);
    // Heavy tails, some zeros and ties.
    for (Index i = 0; i < p; ++i) {
      x[i] = seed % 3 == 0 ? static_cast<double>(rng.below(5)) - 2
                           : rng.normal() * std::exp(2 * rng.normal());
    }
    const double bound = (1 - static_cast<double>(k) / static_cast<double>(p)) * x.squaredNorm();
    INFO("seed " << seed << ", p = " << p << ", k = " << k);
    Vector y(p);
    TopK({.k = k}).compress(x, y, rng);
    CHECK((y - x).squaredNorm() <= bound);
    // With 32-bit values the kept coordinates add their rounding error only.
    TopK({.k = k}, {.float_bits = 32}).compress(x, y, rng);
    CHECK((y - x).squaredNorm() <= bound + 0x1.0p-46 * x.squaredNorm());
  }
}

TEST_CASE("TopK chooses the shorter index encoding", "[compress][top_k]") {
  // p = 64: six bits per index, so up to 10 indices go as a list, 11 or more as the mask.
  CHECK(TopK({.k = 10}).bits(64).indices == 60);
  CHECK(TopK({.k = 11}).bits(64).indices == 64);
  // p = 2, k = 2: list and mask both take 2 bits, and the tie goes to the list.
  CHECK(TopK({.k = 2}).bits(2).indices == 2);
  // p = 1: the only index needs no bits.
  CHECK(TopK({.k = 1}).bits(1) == Bits{.values = 64, .indices = 0, .metadata = 1});
  RandomStream rng(0, Purpose::compress);
  CHECK(TopK({.k = 10}).encode(Vector::Ones(64), rng).bytes[0] % 2 == 0);
  CHECK(TopK({.k = 11}).encode(Vector::Ones(64), rng).bytes[0] % 2 == 1);
}

TEST_CASE("TopK keeps k values when x has fewer non-zeros", "[compress][top_k]") {
  Vector x = Vector::Zero(20);
  x[7] = -2;
  const TopK top({.k = 4});
  const Vector y = test::check_round_trip(top, x, 0);
  Vector expected = Vector::Zero(20);
  expected[7] = -2;
  CHECK(y == expected);
  CHECK(top.bits(20) == Bits{.values = 4 * 64, .indices = 4 * 5, .metadata = 1});
}

TEST_CASE("TopK rejects malformed messages", "[compress][top_k]") {
  const compress::Wire narrow{.float_bits = 32};  // the hand-made messages carry 32-bit floats
  const TopK top({.k = 3}, narrow);
  Vector out(1000);  // ten bits per index
  CHECK_NOTHROW(top.decode(handmade(true, {5, 9, 999}, 10, {1, 2, 3}), out));
  CHECK(out[999] == 3);
  CHECK_THROWS_WITH(top.decode(handmade(true, {5, 9, 1000}, 10, {1, 2, 3}), out),
                    Catch::Contains("index 1000 out of range"));
  CHECK_THROWS_WITH(top.decode(handmade(true, {5, 1023, 7}, 10, {1, 2, 3}), out),
                    Catch::Contains("out of range"));
  CHECK_THROWS_WITH(top.decode(handmade(true, {9, 5, 7}, 10, {1, 2, 3}), out),
                    Catch::Contains("not strictly ascending"));
  CHECK_THROWS_WITH(top.decode(handmade(true, {5, 5, 7}, 10, {1, 2, 3}), out),
                    Catch::Contains("not strictly ascending"));
  CHECK_THROWS_WITH(top.decode(handmade(false, {5, 9, 999}, 10, {1, 2, 3}), out),
                    Catch::Contains("bad header"));
  CHECK_THROWS_AS(top.decode(handmade(true, {5, 9, 999}, 10, {1, 2}), out), DecodeError);
  CHECK_THROWS_WITH(
      top.decode(handmade(true, {5, 9, 999}, 10, {1, std::numeric_limits<float>::infinity(), 3}),
                 out),
      Catch::Contains("non-finite"));
  CHECK_THROWS_WITH(
      top.decode(handmade(true, {5, 9, 999}, 10, {1, std::numeric_limits<float>::quiet_NaN(), 3}),
                 out),
      Catch::Contains("non-finite"));

  // Masks: k = 11 of p = 70 goes as a 70-bit mask (11 · 7 = 77 > 70).
  const TopK masked({.k = 11}, narrow);
  Vector out70(70);
  const auto mask_message = [](std::uint64_t low, std::uint64_t high) {
    Message message;
    BitWriter writer(message);
    writer.write(1, 1, Field::metadata);
    writer.write(low, 64, Field::indices);
    writer.write(high, 6, Field::indices);
    for (int n = 0; n < 11; ++n) writer.write_f32(1.0f + static_cast<float>(n), Field::values);
    writer.finish();
    return message;
  };
  CHECK_NOTHROW(masked.decode(mask_message(0x3FF, 0x20), out70));
  CHECK(out70[69] == 11);
  CHECK(out70.head(10) == Vector::LinSpaced(10, 1, 10));
  CHECK_THROWS_WITH(masked.decode(mask_message(0x1FF, 0x20), out70),
                    Catch::Contains("10 bits set, expected k = 11"));
  CHECK_THROWS_WITH(masked.decode(mask_message(0x7FF, 0x20), out70),
                    Catch::Contains("more than k = 11"));
  CHECK_THROWS_WITH(masked.decode(mask_message(0xFFF, 0), out70), Catch::Contains("more than"));

  // Real messages: truncated, lengthened, a flipped flag, non-zero padding.
  for (const Index k : {Index{3}, Index{400}}) {
    const TopK t({.k = k});
    const Vector x = test::awkward_vector(1000, 5);
    test::check_rejects_truncation(t, x);
    RandomStream rng(0, Purpose::compress);
    Message flipped = t.encode(x, rng);
    flipped.bytes[0] ^= 1;
    CHECK_THROWS_WITH(t.decode(flipped, out), Catch::Contains("bad header"));
  }
  const TopK one({.k = 1}, narrow);
  Vector out5(5);
  RandomStream rng(0, Purpose::compress);
  Message padded = one.encode(test::awkward_vector(5, 1), rng);  // 1 + 3 + 32 bits
  REQUIRE(padded.bytes.size() == 5);
  padded.bytes.back() |= 0x80;
  CHECK_THROWS_WITH(one.decode(padded, out5), Catch::Contains("padding"));
}

TEST_CASE("TopK refuses non-finite input and values beyond the float range", "[compress][top_k]") {
  for (const Index k : {Index{1}, Index{2}, Index{5}})
    test::check_rejects_non_finite(TopK({.k = k}), 5);
  // Large enough for the sampling path, the bad value anywhere.
  for (const Index at : {Index{0}, Index{77777}, Index{199999}}) {
    Vector x = Vector::Ones(200000);
    x[at] = std::numeric_limits<double>::quiet_NaN();
    Vector out(200000);
    RandomStream rng(0, Purpose::compress);
    CHECK_THROWS_AS(TopK({.k = 10}).compress(x, out, rng), std::domain_error);
    x[at] = -std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(TopK({.k = 10}).encode(x, rng), std::domain_error);
  }
  Vector x = Vector::Ones(4);
  x[2] = 1e300;
  Vector out(4);
  RandomStream rng(0, Purpose::compress);
  CHECK_THROWS_WITH(TopK({.k = 1}, {.float_bits = 32}).compress(x, out, rng),
                    Catch::Contains("x[2] = 1e+300 does not fit in a 32-bit float"));
  CHECK_NOTHROW(TopK({.k = 1}).compress(x, out, rng));
  CHECK(out[2] == 1e300);
}

TEST_CASE("TopK: invalid parameters name themselves, their value and the allowed range",
          "[compress][top_k]") {
  using Catch::Contains;
  const auto refused = [](TopK::Params params) { return test::refusal([&] { TopK{params}; }); };
  CHECK_THAT(refused({}), Contains("top_k.k = 0: must be ≥ 1, or set top_k.fraction in (0, 1]"));
  CHECK_THAT(refused({.k = -1}), Contains("top_k.k = -1: must be ≥ 1"));
  CHECK_THAT(refused({.k = 5, .fraction = 0.1}),
             Contains("top_k.fraction = 0.1: must be 0 when top_k.k is set"));
  CHECK_THAT(refused({.fraction = 1.5}), Contains("top_k.fraction = 1.5: must be in (0, 1]"));
  CHECK_THAT(refused({.fraction = -0.1}), Contains("top_k.fraction = -0.1: must be in (0, 1]"));
  CHECK_THAT(refused({.fraction = std::nan("")}), Contains("top_k.fraction = nan: must be in"));
  CHECK_THAT(test::refusal([] { TopK({.k = 1}, {.float_bits = 16}); }),
             Contains("float_bits = 16: must be 32 or 64"));
  CHECK(refused({.fraction = 1}) == "accepted");
  CHECK(refused({.fraction = 5e-324}) == "accepted");

  // k > p is refused where p is known: by count(), and by every message.
  const TopK top({.k = 8});
  CHECK_THAT(test::refusal([&] { top.count(7); }),
             Contains("top_k.k = 8: must be at most the dimension p = 7"));
  CHECK(top.count(8) == 8);
  // Through any channel, before a run starts (compress::require_dimension).
  CHECK_THAT(
      test::refusal([] { compress::require_dimension(compress::Stateless<TopK>({.k = 8}), 7); }),
      Contains("top_k.k = 8: must be at most the dimension p = 7"));
  CHECK_THAT(test::refusal([] {
               compress::require_dimension(compress::Markov<TopK>({.compressor = {.k = 8}}), 7);
             }),
             Contains("top_k.k = 8: must be at most the dimension p = 7"));
  CHECK_THAT(test::refusal(
                 [] { compress::require_dimension(compress::ErrorFeedback<TopK>({{.k = 8}}), 7); }),
             Contains("top_k.k = 8"));
  CHECK(test::refusal([] {
          compress::require_dimension(compress::ErrorFeedback<TopK>({{.k = 7}}), 7);
        }) == "accepted");
  Vector x = Vector::Ones(7);
  Vector out(7);
  RandomStream rng(0, Purpose::compress);
  CHECK_THROWS_WITH(top.encode(x, rng), Catch::Contains("top_k.k = 8") && Catch::Contains("p = 7"));
  CHECK_THROWS_AS(top.compress(x, out, rng), std::invalid_argument);
  CHECK_THROWS_AS(top.decode(Message{}, out), std::invalid_argument);

  CHECK(TopK({.k = 3}, {.float_bits = 32}).describe() == "top_k(k=3, fp32)");
  CHECK(TopK({.fraction = 0.01}).describe() == "top_k(fraction=0.01, fp64)");
  CHECK_FALSE(TopK({.k = 3}).unbiased());
}

TEST_CASE("Sparsifiers with a fraction accept p = 0", "[compress][top_k]") {
  const TopK top({.fraction = 0.5});
  CHECK(top.count(0) == 0);
  const Vector empty(0);
  test::check_round_trip(top, empty, 0);
  CHECK(top.bits(0) == Bits{.metadata = 1});
  CHECK_THROWS_WITH(TopK({.k = 1}).bits(0), Catch::Contains("top_k.k = 1"));
}

TEST_CASE("TopK's filtering pass keeps exact semantics on continuous data", "[compress][top_k]") {
  // Gaussian data, where most blocks of 8 are skipped, with ties placed around the k-th
  // largest magnitude and at block edges.
  const Index p = 262147;
  Vector x = test::awkward_vector(p, 9);
  for (const Index k : {Index{1}, Index{100}, p / 100, p / 20}) {
    Vector tied = x;
    Vector magnitudes = x.cwiseAbs();
    std::nth_element(magnitudes.data(), magnitudes.data() + (k - 1), magnitudes.data() + p,
                     std::greater<>());
    const double v = magnitudes[k - 1];
    for (const Index at : {Index{7}, Index{8}, Index{1000}, p / 2, p - 1}) {
      tied[at] = at % 2 ? v : -v;
    }
    INFO("k = " << k);
    RandomStream unused(0, Purpose::compress);
    Vector y(p);
    TopK({.k = k}).compress(tied, y, unused);
    CHECK(same_bits(y, sort_reference(tied, k, 64)));
  }
  // A NaN or an infinity in a block that would be skipped is still refused.
  for (const Index at : {Index{0}, Index{12345}, Index{99999}, p - 1}) {
    for (const double bad :
         {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
      Vector y = x;
      y[at] = bad;
      Vector out(p);
      RandomStream rng(0, Purpose::compress);
      CHECK_THROWS_AS(TopK({.k = 10}).compress(y, out, rng), std::domain_error);
      CHECK_THROWS_AS(TopK({.k = 10}).encode(y, rng), std::domain_error);
    }
  }
}
