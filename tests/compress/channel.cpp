#include <laconic/compress/channel.hpp>
#include <laconic/compress/fp16.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>

#include "compress/fixtures.hpp"

using namespace laconic;

TEST_CASE("channels count each message the papers' way beside the exact way", "[compress]") {
  // The compressors' own compress()/encode() leave `paper` at 0; a channel fills it.
  const Vector x = test::awkward_vector(1000, 1);
  Vector out(1000);
  auto paper = [&](const auto& compressor) {
    compress::Stateless<std::decay_t<decltype(compressor)>> channel(compressor.params());
    auto state = channel.make_state(1000);
    RandomStream send_rng(0, Purpose::compress), encode_rng(0, Purpose::compress);
    const Bits sent = channel.send(state, x, out, send_rng);
    CHECK(channel.encode(state, x, encode_rng).bits == sent);
    return sent.paper;
  };
  CHECK(paper(compress::Identity({.float_bits = 64})) == 32 * 1000);
  CHECK(paper(compress::TopK({.k = 10})) == 32 * 10);  // EF21: k floats
  CHECK(paper(compress::RandK({.k = 10})) == 32 * 10);
  CHECK(paper(compress::Qsgd({.levels = 7})) == 32 + 1000 * 4);   // LASG: 32 + b·p, b = 4
  CHECK(paper(compress::Uniform({.bits = 3})) == 32 + 3 * 1000);  // LAQ: 32 + b·p
  CHECK(paper(compress::ScaledSign()) == 32 + 1000);              // CD-Adam: d + 32
  CHECK(paper(compress::Fp16()) == 16 * 1000);                    // as sent
}
