#pragma once

// Checks shared by the compressor tests.

#include <laconic/compress/channel.hpp>
#include <laconic/compress/compressor.hpp>
#include <laconic/core/rng.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <bit>
#include <cmath>
#include <limits>
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

// decode(encode(x)) equals compress(x) bit for bit, both draw the same random numbers, the
// bits are those of the message, and the message is exactly its bits rounded up to bytes.
// Returns the decoded vector.
template <compress::Compressor C>
Vector check_round_trip(const C& c, const Vector& x, std::uint64_t seed) {
  RandomStream rng_encode(seed, Purpose::compress, 3, 5);
  RandomStream rng_compress = rng_encode, rng_decode = rng_encode;
  const Message message = c.encode(x, rng_encode);
  Vector decoded = Vector::Constant(x.size(), std::numeric_limits<double>::quiet_NaN());
  compress::decode(c, message, decoded, rng_decode);
  Vector fast = Vector::Constant(x.size(), std::numeric_limits<double>::quiet_NaN());
  const Bits bits = c.compress(x, fast, rng_compress);
  CHECK(bits == message.bits);
  CHECK(message.bytes.size() == (message.bits.total() + 7) / 8);
  CHECK(rng_encode.position() == rng_compress.position());
  REQUIRE(decoded.size() == x.size());
  // Bitwise equality: the first differing coordinate, or p.
  Index first = 0;
  while (first < x.size() && std::bit_cast<std::uint64_t>(decoded[first]) ==
                                 std::bit_cast<std::uint64_t>(fast[first])) {
    ++first;
  }
  INFO("p = " << x.size() << ", first difference at " << first);
  CHECK(first == x.size());
  return decoded;
}

// Every non-finite input is refused.
template <compress::Compressor C>
void check_rejects_non_finite(const C& c, Index p) {
  for (const double bad :
       {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    Vector x = Vector::Ones(p);
    x[p / 2] = bad;
    Vector out(p);
    RandomStream rng(1, Purpose::compress);
    CHECK_THROWS_AS(c.encode(x, rng), std::domain_error);
    CHECK_THROWS_AS(c.compress(x, out, rng), std::domain_error);
  }
}

// Truncating a message, or appending a byte, makes decode throw DecodeError.
template <compress::Compressor C>
void check_rejects_truncation(const C& c, const Vector& x) {
  const RandomStream before(2, Purpose::compress);
  RandomStream rng = before;
  const Message message = c.encode(x, rng);
  Vector out(x.size());
  const auto decode = [&](const Message& m) {
    RandomStream senders = before;
    compress::decode(c, m, out, senders);
  };
  for (std::size_t keep : {std::size_t{0}, message.bytes.size() / 2, message.bytes.size() - 1}) {
    if (keep >= message.bytes.size()) continue;
    Message cut = message;
    cut.bytes.resize(keep);
    INFO("kept " << keep << " of " << message.bytes.size() << " bytes");
    CHECK_THROWS_AS(decode(cut), DecodeError);
  }
  Message longer = message;
  longer.bytes.push_back(0);
  CHECK_THROWS_AS(decode(longer), DecodeError);
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
