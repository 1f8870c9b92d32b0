#pragma once

// Checks shared by the compressor tests.

#include <laconic/compress/channel.hpp>
#include <laconic/compress/check.hpp>
#include <laconic/compress/compressor.hpp>
#include <laconic/core/rng.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace laconic::test {

// Vectors of size p that exercise the corners: Gaussian entries, exact zeros, ties in
// magnitude, a denormal, and one dominant entry.
inline Vector awkward_vector(Index p, std::uint64_t seed) {
  RandomStream rng(seed, Purpose::user);
  Vector x(p);
  for (Index i = 0; i < p; ++i) x[i] = rng.normal();
  if (p >= 4) {
    x[1] = 0;
    x[2] = -x[0];  // a tie in magnitude
    x[3] = std::numeric_limits<double>::denorm_min();
  }
  if (p >= 7) x[6] = 1e3;
  return x;
}

inline const std::vector<Index>& contract_sizes() {
  static const std::vector<Index> sizes{1, 2, 7, 64, 1000, 100000};
  return sizes;
}

// What a compress::ContractCheck found, as one Catch check that lists it.
inline void check_no_violations(const std::vector<std::string>& violations, Index p) {
  std::string found;
  for (const std::string& v : violations) found += "\n  " + v;
  INFO("p = " << p << ", contract violations:" << found);
  CHECK(violations.empty());
}

// decode(encode(x)) equals compress(x) bit for bit, both draw the same random numbers, the
// bits are those of the message, and the message is exactly its bits rounded up to bytes
// (compress::ContractCheck::round_trip, with the sender's stream (seed, compress, 3, 5)).
// Returns the decoded vector.
template <compress::Compressor C>
Vector check_round_trip(const C& c, const Vector& x, std::uint64_t seed) {
  compress::ContractCheck<C> check(c, RandomStream(seed, Purpose::compress, 3, 5));
  Vector decoded = check.round_trip(x);
  check_no_violations(check.violations(), x.size());
  REQUIRE(decoded.size() == x.size());
  return decoded;
}

// Every non-finite input is refused (in place of the middle entry of a vector of ones).
template <compress::Compressor C>
void check_rejects_non_finite(const C& c, Index p) {
  compress::ContractCheck<C> check(c, RandomStream(1, Purpose::compress));
  check.rejects_non_finite(Vector::Ones(p));
  check_no_violations(check.violations(), p);
}

// Truncating a message, or appending a byte, makes decode throw DecodeError.
template <compress::Compressor C>
void check_rejects_truncation(const C& c, const Vector& x) {
  compress::ContractCheck<C> check(c, RandomStream(2, Purpose::compress));
  check.rejects_resized(x);
  check_no_violations(check.violations(), x.size());
}

// A channel's two ends kept apart (encode at the sender, decode at the receiver) agree with the
// simulated send() over `rounds` messages of size p: same bits, same received vector, and
// same_state(shared, sender, receiver) holds after each message.
template <compress::Channel L, class SameState>
void check_ends_agree(const L& channel, Index p, std::uint64_t rounds, std::uint64_t seed,
                      SameState same_state) {
  auto shared = channel.make_state(p);
  auto sender = channel.make_state(p);
  auto receiver = channel.make_state(p);
  Vector fast(p), received(p);
  for (std::uint64_t t = 0; t < rounds; ++t) {
    const Vector w = awkward_vector(p, seed + t);
    RandomStream a(1, Purpose::compress, t), b = a, c = a;
    const Bits bits = channel.send(shared, w, fast, a);
    const Message message = channel.encode(sender, w, b);
    channel.decode(receiver, message, received, c);
    CHECK(bits == message.bits);
    CHECK(received == fast);
    CHECK(same_state(shared, sender, receiver));
  }
}

}  // namespace laconic::test
