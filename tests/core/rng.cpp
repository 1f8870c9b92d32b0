#include <laconic/core/rng.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using laconic::Purpose;
using laconic::RandomStream;

TEST_CASE("Philox4x64-10 matches the Random123 known-answer vectors", "[core][rng]") {
  using laconic::philox::generate;
  CHECK(generate({0, 0, 0, 0}, {0, 0}) ==
        laconic::philox::Block{0x16554d9eca36314c, 0xdb20fe9d672d0fdc, 0xd7e772cee186176b,
                               0x7e68b68aec7ba23b});
  const std::uint64_t ones = ~std::uint64_t{0};
  CHECK(generate({ones, ones, ones, ones}, {ones, ones}) ==
        laconic::philox::Block{0x87b092c3013fe90b, 0x438c3c67be8d0224, 0x9cc7d7c69cd777b6,
                               0xa09caebf594f0ba0});
}

TEST_CASE("streams are reproducible and addressable", "[core][rng]") {
  RandomStream a(7, Purpose::batch, 3, 5);
  RandomStream b(7, Purpose::batch, 3, 5);
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 37; ++i) first.push_back(a.next_u64());
  for (int i = 0; i < 37; ++i) CHECK(b.next_u64() == first[static_cast<std::size_t>(i)]);

  SECTION("seek restores any position") {
    RandomStream c(7, Purpose::batch, 3, 5);
    c.seek(13);
    CHECK(c.position() == 13);
    for (std::size_t i = 13; i < first.size(); ++i) CHECK(c.next_u64() == first[i]);
  }
}

TEST_CASE("streams with different keys or addresses are independent", "[core][rng]") {
  // Each pair differs in exactly one of seed, purpose, round, worker. Correlation of 10^5
  // uniforms should be within a few 1/sqrt(n) of zero, and no words should coincide.
  const int n = 100000;
  RandomStream base(1, Purpose::batch, 2, 3);
  std::vector<RandomStream> others{
      RandomStream(2, Purpose::batch, 2, 3), RandomStream(1, Purpose::compress, 2, 3),
      RandomStream(1, Purpose::batch, 3, 3), RandomStream(1, Purpose::batch, 2, 4)};
  std::vector<double> u(n);
  for (auto& x : u) x = base.uniform();
  for (auto& other : others) {
    double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    int equal = 0;
    for (int i = 0; i < n; ++i) {
      const double x = u[static_cast<std::size_t>(i)], y = other.uniform();
      sxy += x * y, sx += x, sy += y, sxx += x * x, syy += y * y;
      equal += x == y;
    }
    const double cov = sxy / n - (sx / n) * (sy / n);
    const double corr = cov / std::sqrt((sxx / n - sx * sx / n / n) * (syy / n - sy * sy / n / n));
    CHECK(std::abs(corr) < 5.0 / std::sqrt(n));
    CHECK(equal == 0);
  }
}

TEST_CASE("uniform, normal and bounded draws have the right moments", "[core][rng]") {
  const int n = 200000;
  RandomStream rng(42, Purpose::user);
  double sum = 0, sum_sq = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    sum += u, sum_sq += u * u;
    lo = std::min(lo, u), hi = std::max(hi, u);
  }
  CHECK(lo >= 0);
  CHECK(hi < 1);
  CHECK(sum / n == Approx(0.5).margin(5 * std::sqrt(1.0 / 12 / n)));
  CHECK(sum_sq / n - (sum / n) * (sum / n) == Approx(1.0 / 12).margin(0.002));

  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    m1 += z, m2 += z * z, m3 += z * z * z, m4 += z * z * z * z;
  }
  CHECK(m1 / n == Approx(0).margin(5 / std::sqrt(n)));
  CHECK(m2 / n == Approx(1).margin(0.02));
  CHECK(m3 / n == Approx(0).margin(0.05));
  CHECK(m4 / n == Approx(3).margin(0.1));

  // Bounded integers: chi-square over 7 buckets (6 degrees of freedom; 99.99% quantile 27.9).
  std::vector<int> counts(7);
  for (int i = 0; i < n; ++i) ++counts[rng.below(7)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 7.0) * (c - n / 7.0) / (n / 7.0);
  CHECK(chi2 < 27.9);

  SECTION("uniform_open never returns 0 and below(1) is 0") {
    for (int i = 0; i < 1000; ++i) {
      CHECK(rng.uniform_open() > 0);
      CHECK(rng.below(1) == 0);
    }
  }
  SECTION("below() reaches the whole range, including huge bounds") {
    const std::uint64_t big = (std::uint64_t{1} << 63) + 12345;
    bool upper_half = false;
    for (int i = 0; i < 64; ++i) {
      const auto v = rng.below(big);
      CHECK(v < big);
      upper_half = upper_half || v >= big / 2;
    }
    CHECK(upper_half);
  }
}

TEST_CASE("fill gives the words of next_u64 from any position", "[core][rng]") {
  for (std::uint64_t start = 0; start < 9; ++start) {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{4},
                                std::size_t{5}, std::size_t{17}}) {
      RandomStream one(5, Purpose::compress, 7, 3);
      one.seek(start);
      RandomStream bulk = one;
      std::vector<std::uint64_t> expected(n), words(n);
      for (auto& word : expected) word = one.next_u64();
      bulk.fill(words.data(), n);
      INFO("start " << start << ", n " << n);
      CHECK(words == expected);
      CHECK(bulk.position() == one.position());
      CHECK(bulk.next_u64() == one.next_u64());  // the cached block is right too
    }
  }
}
