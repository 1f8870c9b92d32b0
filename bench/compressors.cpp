// Encode, decode and fast-path throughput of every compressor, as ratios to a memcpy of the
// same vector timed in the same run, at p = 10^3, 10^5, 10^6; and top-k's selection against
// std::nth_element on |x|. Input bytes per second = 8p / time.
//
// Targets (compressor issue, at p = 10^6): ScaledSign and Uniform encode >= 0.3 x memcpy,
// Qsgd >= 0.1 x, every decode >= 0.3 x, TopK (k = p/100) >= 3 x faster than nth_element.
//
// Usage: bench_compressors [p ...]

#include <laconic/compress/fp16.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "timing.hpp"

namespace {

using namespace laconic;
using bench::keep;
using bench::median_seconds;

struct Row {
  std::string name;
  double encode, decode, fast;  // ratios to memcpy
  double target_encode = 0, target_decode = 0;
};

int repetitions_for(Index p) {
  return static_cast<int>(std::clamp<Index>(20'000'000 / p, 7, 2001));
}

template <compress::Compressor C>
Row measure(const std::string& name, const C& c, const Vector& x, double memcpy_seconds) {
  const int reps = repetitions_for(x.size());
  RandomStream rng(1, Purpose::compress);
  Message message = c.encode(x, rng);
  Vector out(x.size());
  const double encode = median_seconds(reps, [&] {
    message = c.encode(x, rng);
    keep(message);
  });
  const double decode = median_seconds(reps, [&] {
    c.decode(message, out);
    keep(out);
  });
  const double fast = median_seconds(reps, [&] {
    keep(c.compress(x, out, rng));
    keep(out);
  });
  return {name, memcpy_seconds / encode, memcpy_seconds / decode, memcpy_seconds / fast};
}

void run(Index p) {
  RandomStream rng(42, Purpose::user);
  Vector x(p);
  for (Index i = 0; i < p; ++i) x[i] = rng.normal();
  std::vector<double> copy(static_cast<std::size_t>(p));
  const int reps = repetitions_for(p);
  const double memcpy_seconds = median_seconds(reps, [&] {
    std::memcpy(copy.data(), x.data(), sizeof(double) * static_cast<std::size_t>(p));
    keep(copy);
  });

  const Index k = std::max<Index>(1, p / 100);
  std::vector<Row> rows = {
      measure("identity (fp32)", compress::Identity{}, x, memcpy_seconds),
      measure("fp16", compress::Fp16{}, x, memcpy_seconds),
      measure("qsgd s=1", compress::Qsgd({.levels = 1}), x, memcpy_seconds),
      measure("qsgd s=255 (fixed)",
              compress::Qsgd({.levels = 255, .encoding = compress::Qsgd::Encoding::fixed}), x,
              memcpy_seconds),
      measure("uniform b=4", compress::Uniform({.bits = 4}), x, memcpy_seconds),
      measure("top-k p/100", compress::TopK({.k = k}), x, memcpy_seconds),
      measure("rand-k p/100", compress::RandK({.k = k}), x, memcpy_seconds),
      measure("scaled sign", compress::ScaledSign{}, x, memcpy_seconds),
  };
  fmt::print("p = {}: memcpy {:.3f} ms ({:.0f} MB/s); ratios of input bytes/s to memcpy's\n", p,
             memcpy_seconds * 1e3, 8e-6 * static_cast<double>(p) / memcpy_seconds);
  fmt::print("  {:<20} {:>8} {:>8} {:>10}\n", "compressor", "encode", "decode", "compress");
  for (const Row& row : rows) {
    fmt::print("  {:<20} {:>8.3f} {:>8.3f} {:>10.3f}\n", row.name, row.encode, row.decode,
               row.fast);
  }

  // Top-k's selection against the textbook one: nth_element on a copy of |x|.
  const compress::TopK top_k({.k = k});
  Vector out(p);
  RandomStream unused(0, Purpose::compress);
  const double ours = median_seconds(reps, [&] {
    keep(top_k.compress(x, out, unused));
    keep(out);
  });
  const double nth = median_seconds(reps, [&] {
    for (Index i = 0; i < p; ++i) copy[static_cast<std::size_t>(i)] = std::abs(x[i]);
    std::nth_element(copy.begin(), copy.begin() + (k - 1), copy.end(), std::greater<>());
    keep(copy);
  });
  fmt::print("  top-k (k = {}) compress is {:.2f} x faster than nth_element on |x|\n\n", k,
             nth / ours);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Index> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atol(argv[i]));
  if (sizes.empty()) sizes = {1'000, 100'000, 1'000'000};
  for (const Index p : sizes) run(p);
}
