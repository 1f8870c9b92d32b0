#include <laconic/core/archive.hpp>
#include <laconic/skip/skip_rule.hpp>

#include <catch2/catch.hpp>

using namespace laconic;

TEST_CASE("the window sums the last D squared steps, missing ones counting as zero", "[skip]") {
  skip::Window window(3);
  CHECK(window.sum() == 0);
  CHECK(window.filled() == 0);
  window.push(1);
  window.push(2);
  CHECK(window.sum() == 3);
  CHECK(window.filled() == 2);
  window.push(4);
  window.push(8);  // drops the 1
  CHECK(window.sum() == 14);
  CHECK(window.filled() == 3);
  for (int i = 0; i < 10; ++i) window.push(0.5);
  CHECK(window.sum() == 1.5);
  CHECK_THROWS_WITH(skip::Window(0), Catch::Contains("= 0: must be >= 1"));
}

TEST_CASE("c defaults to c_eta2/eta^2 of the server's first step, c_eta2 to 1", "[skip]") {
  const skip::Setup setup{.workers = 2, .dim = 3, .step = 0.25};
  CHECK(skip::resolve_scale(std::nullopt, std::nullopt, setup) == 16);
  CHECK(skip::resolve_scale(std::nullopt, 0.125, setup) == 2);
  CHECK(skip::resolve_scale(2.5, std::nullopt, setup) == 2.5);
  CHECK_THROWS_WITH(skip::resolve_scale(std::nullopt, 0.125, skip::Setup{}),
                    Catch::Contains("give the skip rule's c explicitly"));
}

TEST_CASE("last uploads track the model and the rounds since", "[skip]") {
  skip::LastUploads last;
  last.start({.workers = 2, .dim = 2});
  CHECK(last.never(0));
  last.skipped(0);
  CHECK(last.staleness(0) == 0);  // still never
  const Vector theta = Vector::Constant(2, 3.0);
  last.uploaded(1, theta);
  CHECK(last.staleness(1) == 1);
  last.skipped(1);
  last.skipped(1);
  CHECK(last.staleness(1) == 3);
  CHECK(last.distance_sq(1, Vector::Zero(2)) == 18);
}

// Found by fuzz_checkpoint (fuzz/checkpoint.cpp): a LAQ checkpoint whose window held a ring
// position past its steps loaded, and the next round's push() wrote beyond them.
TEST_CASE("a window restored from a checkpoint keeps its length and a position inside it",
          "[skip]") {
  skip::Window saved(3);
  saved.push(1);
  ArchiveWriter writer;
  saved.state(writer);
  // The archive's words: the steps (a length, then 3 numbers), next, sum, filled.
  const auto word = [](std::uint64_t w) {
    std::string out;
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((w >> (8 * b)) & 0xff));
    return out;
  };
  const std::string good = writer.bytes();
  const auto load = [](const std::string& bytes) {
    skip::Window window(3);
    ArchiveReader reader(bytes, "test");
    window.state(reader);
    return window;
  };
  CHECK(load(good).sum() == 1);
  std::string far = good;
  far.replace(32, 8, word(7));  // next = 7 in a ring of 3
  CHECK_THROWS_AS(load(far), CheckpointError);
  std::string longer = word(4) + good.substr(8, 24) + word(0) + good.substr(32);  // 4 steps
  CHECK_THROWS_WITH(load(longer), Catch::Contains("a window of length 4"));
  std::string overfilled = good;
  overfilled.replace(48, 8, word(9));  // filled = 9 of 3
  CHECK_THROWS_AS(load(overfilled), CheckpointError);
}
