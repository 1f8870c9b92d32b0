#include <laconic/core/ledger.hpp>

#include <catch2/catch.hpp>

using namespace laconic;

TEST_CASE("Ledger counts per worker and in total", "[core][ledger]") {
  Ledger ledger(3);
  ledger.upload(0, Bits{.values = 32, .indices = 5, .metadata = 1});
  ledger.upload(2, Bits{.values = 64});
  ledger.download(1, Bits{.values = 10});
  ledger.download(1, Bits{.values = 10});
  ledger.gradient_samples(2, 17);

  CHECK(ledger.worker(0).uploads == 1);
  CHECK(ledger.worker(0).up == Bits{32, 5, 1});
  CHECK(ledger.worker(1).downloads == 2);
  CHECK(ledger.worker(1).down.total() == 20);
  CHECK(ledger.worker(2).gradient_samples == 17);

  Traffic sum;
  for (Index m = 0; m < ledger.workers(); ++m) sum += ledger.worker(m);
  CHECK(sum == ledger.total());
  CHECK(ledger.total().uploads == 2);
  CHECK(ledger.total().up.total() == 102);
  CHECK_THROWS_AS(ledger.upload(3, Bits{}), std::out_of_range);
}
