#pragma once

// The decoders fuzz_message exercises and how its input chooses one, shared with the seed
// generator so that seeds and target agree. Input:
//   byte 0     which decoder (kinds below, modulo their count)
//   byte 1, 2  parameters a and b (levels, bits, k or fraction, the shared seed)
//   byte 3, 4  the dimension p, little-endian, modulo max_dim + 1
//   the rest   a compressor's message; for a channel, up to max_messages messages in turn,
//              each preceded by its length (two bytes, little-endian)

#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/fp16.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>
#include <laconic/core/rng.hpp>

#include <cstdint>
#include <string>

namespace laconic::fuzz {

inline constexpr Index max_dim = 4096;
inline constexpr int max_messages = 4;

struct MessageSetup {
  std::uint8_t kind = 0;
  std::uint8_t a = 0;
  std::uint8_t b = 0;
  Index p = 0;

  std::string header() const {
    const auto p16 = static_cast<std::uint16_t>(p);
    return {static_cast<char>(kind), static_cast<char>(a), static_cast<char>(b),
            static_cast<char>(p16 & 0xff), static_cast<char>(p16 >> 8)};
  }
};

// RandK with shared_seed: decoding needs the sender's stream, which (a, b) key.
struct SharedSeedRandK {
  compress::RandK rand_k;
  RandomStream stream() const { return RandomStream(seed, Purpose::compress, round, 0); }
  std::uint64_t seed;
  std::uint64_t round;
};

namespace detail {

inline int qsgd_levels(std::uint8_t a, std::uint8_t b) {
  // Mostly the levels that are used (1 bit to 8 bits, FedPAQ's s = 1), sometimes any.
  constexpr int common[8] = {1, 2, 3, 4, 7, 15, 127, 255};
  if (a % 2 == 0) return common[(a >> 1) % 8];
  return 1 + static_cast<int>((static_cast<unsigned>(a >> 1) | (unsigned{b} << 7)) %
                              compress::Qsgd::max_levels);
}

// k in 1..p from (a, b) when a is even and p > 0, else a fraction in (0, 1].
inline void sparse_count(std::uint8_t a, std::uint8_t b, Index p, Index& k, double& fraction) {
  if (a % 2 == 0 && p > 0) {
    k = 1 + static_cast<Index>((static_cast<unsigned>(a >> 1) | (unsigned{b} << 7)) %
                               static_cast<unsigned>(p));
    fraction = 0;
  } else {
    k = 0;
    fraction = (1 + (a >> 1)) / 128.0;
  }
}

inline compress::TopK::Params top_k(const MessageSetup& s) {
  compress::TopK::Params params;
  sparse_count(s.a, s.b, s.p, params.k, params.fraction);
  return params;
}

inline compress::RandK::Params rand_k(const MessageSetup& s, bool scaled, bool shared) {
  compress::RandK::Params params{.scaled = scaled, .shared_seed = shared};
  sparse_count(s.a, s.b, s.p, params.k, params.fraction);
  return params;
}

inline constexpr compress::Wire fp32{.float_bits = 32}, fp64{.float_bits = 64};

}  // namespace detail

inline constexpr int message_kinds = 23;

// Calls f(link) with the decoder of kind s.kind: a Compressor, a Channel (Markov,
// ErrorFeedback) or a SharedSeedRandK.
template <class F>
void with_decoder(const MessageSetup& s, F&& f) {
  using compress::ErrorFeedback, compress::Fp16, compress::Identity, compress::Markov,
      compress::Qsgd, compress::RandK, compress::ScaledSign, compress::TopK, compress::Uniform;
  using Q = Qsgd::Encoding;
  const int levels = detail::qsgd_levels(s.a, s.b);
  // QSGD's norm: 32 bits (64 in its wide form) or 64, by b's parity.
  const compress::Wire qsgd_wire{.float_bits = s.b % 2 == 0 ? 32 : 64};
  switch (s.kind % message_kinds) {
    case 0:
      return f(Identity({}, detail::fp32));
    case 1:
      return f(Identity({}, detail::fp64));
    case 2:
      return f(Fp16());
    case 3:
      return f(Qsgd({.levels = levels, .encoding = Q::fixed}, qsgd_wire));
    case 4:  // the sparse forms: ω for an even p, γ for an odd one
      return f(Qsgd({.levels = levels, .encoding = s.p % 2 == 0 ? Q::elias : Q::elias_gamma},
                    qsgd_wire));
    case 5:
      return f(Qsgd({.levels = levels, .encoding = Q::cheaper}, qsgd_wire));
    case 6:
      return f(Uniform({.bits = 1 + s.a % 31}, s.b % 2 == 0 ? detail::fp32 : detail::fp64));
    case 7:
      return f(TopK(detail::top_k(s), detail::fp32));
    case 8:
      return f(TopK(detail::top_k(s), detail::fp64));
    case 9:
      return f(RandK(detail::rand_k(s, false, false), detail::fp32));
    case 10:
      return f(RandK(detail::rand_k(s, true, false), detail::fp32));
    case 11:
      return f(RandK(detail::rand_k(s, true, false), detail::fp64));
    case 12:
      return f(SharedSeedRandK{RandK(detail::rand_k(s, false, true), detail::fp32), s.b, s.a});
    case 13:
      return f(SharedSeedRandK{RandK(detail::rand_k(s, true, true), detail::fp64), s.b, s.a});
    case 14:
      return f(ScaledSign({}, detail::fp32));
    case 15:
      return f(ScaledSign({}, detail::fp64));
    case 16:
      return f(Markov<TopK>({.compressor = detail::top_k(s)}, detail::fp32));
    case 17:
      return f(Markov<TopK>({.compressor = detail::top_k(s), .start = Markov<TopK>::Start::exact},
                            detail::fp64));
    case 18:
      return f(Markov<ScaledSign>({.start = Markov<ScaledSign>::Start::exact}, detail::fp32));
    case 19:
      return f(Markov<Uniform>({.compressor = {.bits = 1 + s.a % 31}}));
    case 20:
      return f(Markov<Qsgd>({.compressor = {.levels = levels, .encoding = Q::cheaper},
                             .start = Markov<Qsgd>::Start::exact},
                            qsgd_wire));
    case 21:
      return f(ErrorFeedback<TopK>({.compressor = detail::top_k(s)}, detail::fp32));
    default:
      return f(ErrorFeedback<ScaledSign>({}, detail::fp64));
  }
}

}  // namespace laconic::fuzz
