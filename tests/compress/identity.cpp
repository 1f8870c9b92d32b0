#include <laconic/compress/identity.hpp>

#include "compress/fixtures.hpp"

using namespace laconic;
using compress::Identity;

static_assert(compress::Compressor<Identity>);

TEST_CASE("Identity sends every coordinate as a 32- or 64-bit float", "[compress][identity]") {
  for (const int width : {32, 64}) {
    const Identity identity({.float_bits = width});
    for (const Index p : test::contract_sizes()) {
      const Vector x = test::awkward_vector(p, 7);
      const Vector y = test::check_round_trip(identity, x, 1);
      CHECK(y == (width == 64 ? x : Vector(x.cast<float>().cast<double>())));
      RandomStream rng(0, Purpose::compress);
      CHECK(identity.encode(x, rng).bits == Bits{.values = static_cast<std::uint64_t>(p * width)});
    }
    test::check_rejects_non_finite(identity, 5);
    test::check_rejects_truncation(identity, test::awkward_vector(9, 2));
  }
  CHECK_THROWS_WITH(Identity({.float_bits = 16}), Catch::Contains("identity.float_bits = 16"));
}
