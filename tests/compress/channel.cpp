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
  auto paper = [&]<class C>(const C& compressor, compress::Wire wire = {}) {
    compress::Stateless<C> channel(compressor.params(), wire);
    auto state = channel.make_state(1000);
    RandomStream send_rng(0, Purpose::compress), encode_rng(0, Purpose::compress);
    const Bits sent = channel.send(state, x, out, send_rng);
    CHECK(channel.encode(state, x, encode_rng).bits == sent);
    return sent.paper;
  };
  // Floats count 32 bits whatever their width on the wire.
  for (const int width : {32, 64}) {
    const compress::Wire wire{.float_bits = width};
    CHECK(paper(compress::Identity(), wire) == 32 * 1000);
    CHECK(paper(compress::TopK({.k = 10}), wire) == 32 * 10);  // EF21: k floats
    CHECK(paper(compress::RandK({.k = 10}), wire) == 32 * 10);
    CHECK(paper(compress::Qsgd({.levels = 7}), wire) == 32 + 1000 * 4);   // LASG: 32 + b·p, b = 4
    CHECK(paper(compress::Uniform({.bits = 3}), wire) == 32 + 3 * 1000);  // LAQ: 32 + b·p
    CHECK(paper(compress::ScaledSign(), wire) == 32 + 1000);              // CD-Adam: d + 32
    CHECK(paper(compress::Fp16(), wire) == 16 * 1000);                    // as sent
  }
  // CD-Adam's Table 2 counts each index as a 32-bit integer too; indices a shared seed
  // redraws are not sent, so not counted.
  const compress::Wire cd_adam{.paper_index_bits = 32};
  CHECK(paper(compress::TopK({.k = 10}), cd_adam) == 2 * 32 * 10);
  CHECK(paper(compress::RandK({.k = 10}), cd_adam) == 2 * 32 * 10);
  CHECK(paper(compress::RandK({.k = 10, .shared_seed = true}), cd_adam) == 32 * 10);
  CHECK(paper(compress::Identity(), cd_adam) == 32 * 1000);
}
