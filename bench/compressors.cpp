// Encode, decode and fast-path throughput of every compressor, as ratios to a memcpy of the
// same vector timed in the same run, at p = 10^3, 10^5, 10^6; and top-k's selection against
// std::nth_element on |x|. Input bytes per second = 8p / time.
//
// The baseline is measured as the compressors are: the same x, the same number of
// repetitions, a series of calls each warm in the cache (x is read over and over). It is
// measured again right before every series it is compared with, so that a change in the load
// of the shared machine between rows does not move the ratios. (Alternating the memcpy and
// the operation call by call would not be consistent: the memcpy then runs after the
// operation has pushed x and its destination out of the cache, and measures up to twice
// slower than in a series of its own.)
//
// Each figure is the ratio of the medians of the two series, and beside it, in brackets, the
// ratio of their minimums. On an idle machine the two agree. On a loaded one the median of a
// call that takes milliseconds includes time slices given to other processes, which a 0.2 ms
// memcpy mostly escapes, so the medians understate the slower operations; the minimums,
// each call's time when it ran uninterrupted, do not.
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
#include <chrono>
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
using bench::sorted_seconds;

// How many times faster an operation is than the baseline, by the medians and the minimums of
// their series.
struct Ratio {
  double median = 0;
  double minimum = 0;
};

struct Row {
  std::string name;
  Ratio encode, decode, fast;
};

int repetitions_for(Index p) {
  return static_cast<int>(std::clamp<Index>(20'000'000 / p, 7, 2001));
}

// `run` against `baseline`, the baseline's series first.
template <class B, class F>
Ratio ratio(int repetitions, B&& baseline, F&& run) {
  const std::vector<double> base = sorted_seconds(repetitions, baseline);
  const std::vector<double> op = sorted_seconds(repetitions, run);
  const std::size_t middle = base.size() / 2;
  return {base[middle] / op[middle], base.front() / op.front()};
}

template <compress::Compressor C>
Row measure(const std::string& name, const C& c, const Vector& x, std::vector<double>& copy) {
  const int reps = repetitions_for(x.size());
  const auto copy_x = [&] {
    std::memcpy(copy.data(), x.data(), sizeof(double) * static_cast<std::size_t>(x.size()));
    keep(copy);
  };
  RandomStream rng(1, Purpose::compress);
  Message message = c.encode(x, rng);
  Vector out(x.size());
  const Ratio encode = ratio(reps, copy_x, [&] {
    message = c.encode(x, rng);
    keep(message);
  });
  const Ratio decode = ratio(reps, copy_x, [&] {
    c.decode(message, out);
    keep(out);
  });
  const Ratio fast = ratio(reps, copy_x, [&] {
    keep(c.compress(x, out, rng));
    keep(out);
  });
  return {name, encode, decode, fast};
}

std::string cell(const Ratio& r) {
  return fmt::format("{:.3f} ({:.3f})", r.median, r.minimum);
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
      measure("identity (fp32)", compress::Identity{}, x, copy),
      measure("fp16", compress::Fp16{}, x, copy),
      measure("qsgd s=1", compress::Qsgd({.levels = 1}), x, copy),
      measure("qsgd s=255 (fixed)",
              compress::Qsgd({.levels = 255, .encoding = compress::Qsgd::Encoding::fixed}), x,
              copy),
      measure("uniform b=4", compress::Uniform({.bits = 4}), x, copy),
      measure("top-k p/100", compress::TopK({.k = k}), x, copy),
      measure("rand-k p/100", compress::RandK({.k = k}), x, copy),
      measure("scaled sign", compress::ScaledSign{}, x, copy),
  };
  fmt::print(
      "p = {}: memcpy {:.3f} ms ({:.0f} MB/s); ratios of input bytes/s to memcpy's, by the "
      "medians (minimums)\n",
      p, memcpy_seconds * 1e3, 8e-6 * static_cast<double>(p) / memcpy_seconds);
  fmt::print("  {:<20} {:>15} {:>15} {:>15}\n", "compressor", "encode", "decode", "compress");
  for (const Row& row : rows) {
    fmt::print("  {:<20} {:>15} {:>15} {:>15}\n", row.name, cell(row.encode), cell(row.decode),
               cell(row.fast));
  }

  // Top-k's selection against the textbook one: nth_element on a copy of |x|.
  const compress::TopK top_k({.k = k});
  Vector out(p);
  RandomStream unused(0, Purpose::compress);
  const Ratio faster = ratio(
      reps,
      [&] {
        for (Index i = 0; i < p; ++i) copy[static_cast<std::size_t>(i)] = std::abs(x[i]);
        std::nth_element(copy.begin(), copy.begin() + (k - 1), copy.end(), std::greater<>());
        keep(copy);
      },
      [&] {
        keep(top_k.compress(x, out, unused));
        keep(out);
      });
  fmt::print("  top-k (k = {}) compress is {:.2f} ({:.2f}) x faster than nth_element on |x|\n\n", k,
             faster.median, faster.minimum);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Index> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atol(argv[i]));
  if (sizes.empty()) sizes = {1'000, 100'000, 1'000'000};
  for (const Index p : sizes) run(p);
}
