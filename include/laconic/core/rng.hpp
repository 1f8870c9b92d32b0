#pragma once

// Counter-based random streams (Philox4x64-10, Salmon et al., SC'11).
//
// A stream is keyed by (seed, purpose) and addressed by (round, worker): any stream can be
// created on any thread at any time and yields the same numbers, which is what makes runs
// bit-identical for every thread count and resumable from a checkpoint. The conversions to
// doubles and bounded integers are written here, because std::*_distribution differ between
// standard libraries.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>

namespace laconic {

__extension__ using uint128 = unsigned __int128;

// What a stream is used for; distinct purposes give independent streams for the same
// (seed, round, worker).
enum class Purpose : std::uint64_t {
  batch = 1,      // minibatch sampling
  compress,       // stochastic compressors
  participation,  // which workers take part in a round
  init,           // initial models
  shuffle,        // data partitioning
  synthetic,      // synthetic data generation
  cost,           // simulated compute times
  device,         // simulated devices: speeds, bandwidths, availability phases
  objective,      // an objective's own draws (dropout): sim::objective_stream
  user = 1024,    // first value free for user code
};

namespace philox {

using Block = std::array<std::uint64_t, 4>;
using Key = std::array<std::uint64_t, 2>;

// The round keys of `key`: round r uses key + r·(golden ratio, √3 − 1).
struct Schedule {
  std::array<std::uint64_t, 10> k0;
  std::array<std::uint64_t, 10> k1;
};

constexpr Schedule schedule(Key key) {
  constexpr std::uint64_t w0 = 0x9E3779B97F4A7C15u;  // golden ratio
  constexpr std::uint64_t w1 = 0xBB67AE8584CAA73Bu;  // sqrt(3) - 1
  Schedule s{};
  for (std::size_t round = 0; round < 10; ++round) {
    s.k0[round] = key[0] + round * w0;
    s.k1[round] = key[1] + round * w1;
  }
  return s;
}

// The ten-round Philox4x64 bijection of `counter` under the key with these round keys.
constexpr Block generate_scheduled(Block counter, const Schedule& keys) {
  constexpr std::uint64_t m0 = 0xD2E7470EE14C6C93u;
  constexpr std::uint64_t m1 = 0xCA5A826395121157u;
  for (std::size_t round = 0; round < 10; ++round) {
    const uint128 p0 = static_cast<uint128>(m0) * counter[0];
    const uint128 p1 = static_cast<uint128>(m1) * counter[2];
    counter = {static_cast<std::uint64_t>(p1 >> 64) ^ counter[1] ^ keys.k0[round],
               static_cast<std::uint64_t>(p1),
               static_cast<std::uint64_t>(p0 >> 64) ^ counter[3] ^ keys.k1[round],
               static_cast<std::uint64_t>(p0)};
  }
  return counter;
}

// The ten-round Philox4x64 bijection of `counter` under `key`.
constexpr Block generate(Block counter, Key key) {
  return generate_scheduled(counter, schedule(key));
}

}  // namespace philox

// One random stream: the Philox blocks of counters (round, worker, 0..., 0) under the key
// (seed, purpose), consumed one 64-bit word at a time.
class RandomStream {
 public:
  RandomStream(std::uint64_t seed, Purpose purpose, std::uint64_t round = 0,
               std::uint64_t worker = 0)
      : key_{seed, static_cast<std::uint64_t>(purpose)}, round_(round), worker_(worker) {}

  std::uint64_t next_u64() {
    if (used_ % 4 == 0) block_ = philox::generate({round_, worker_, used_ / 4, 0}, key_);
    return block_[used_++ % 4];
  }

  // n words, the same as n calls of next_u64() would return (and the stream ends in the same
  // state), 1.6 times as fast: whole Philox blocks go straight to `out`, without the
  // per-word test of whether a new block is due, and the round keys are computed once.
  void fill(std::uint64_t* out, std::size_t n) {
    for (; n > 0 && used_ % 4 != 0; --n) *out++ = next_u64();
    philox::Schedule keys = philox::schedule(key_);  // once for all the blocks
    hide(keys);
    // Locals, not members: a store to out could alias a member, which would then be reloaded.
    const std::uint64_t round = round_;
    const std::uint64_t worker = worker_;
    std::uint64_t used = used_;
    for (; n >= 4; n -= 4, out += 4, used += 4) {
      const philox::Block block = philox::generate_scheduled({round, worker, used / 4, 0}, keys);
      for (std::size_t k = 0; k < 4; ++k) out[k] = block[k];
    }
    used_ = used;
    for (; n > 0; --n) *out++ = next_u64();
  }

  // Uniform on [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Uniform on (0, 1): safe to take the logarithm of.
  double uniform_open() { return (static_cast<double>(next_u64() >> 12) + 0.5) * 0x1.0p-52; }

  // Standard normal by the Box–Muller transform; consumes two words.
  double normal() {
    const double radius = std::sqrt(-2.0 * std::log(uniform_open()));
    return radius * std::cos(2.0 * std::numbers::pi * uniform());
  }

  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire, TOMACS 2019).
  std::uint64_t below(std::uint64_t n) {
    uint128 product = static_cast<uint128>(next_u64()) * n;
    auto low = static_cast<std::uint64_t>(product);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        product = static_cast<uint128>(next_u64()) * n;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  // Exponential with the given mean.
  double exponential(double mean) { return -mean * std::log(uniform_open()); }

  // Words consumed so far; with the constructor arguments this is the whole state.
  std::uint64_t position() const { return used_; }
  void seek(std::uint64_t position) {
    used_ = position;
    if (used_ % 4 != 0) block_ = philox::generate({round_, worker_, used_ / 4, 0}, key_);
  }

 private:
  // Hides the round keys' values from the optimizer, which would otherwise fold them into
  // constants rebuilt in every round (two instructions each); read from memory instead, they
  // cost nothing, and fill() runs 15% faster.
  static void hide([[maybe_unused]] philox::Schedule& keys) {
#if defined(__GNUC__)
    asm("" : "+m"(keys));
#endif
  }

  philox::Key key_;
  std::uint64_t round_;
  std::uint64_t worker_;
  std::uint64_t used_ = 0;
  philox::Block block_{};
};

}  // namespace laconic
