#include <laconic/core/bits.hpp>
#include <laconic/core/rng.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace laconic;

TEST_CASE("BitWriter and BitReader round-trip fields of any width", "[core][bits]") {
  RandomStream rng(3, Purpose::user);
  std::vector<std::pair<std::uint64_t, int>> written;
  std::vector<std::uint8_t> bytes;
  BitWriter writer(bytes);
  std::uint64_t expected_bits = 0;
  for (int i = 0; i < 500; ++i) {
    const int width = static_cast<int>(rng.below(65));
    const std::uint64_t mask = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
    const std::uint64_t value = rng.next_u64() & mask;
    writer.write(value, width, i % 3 == 0 ? Field::values : Field::indices);
    written.emplace_back(value, width);
    expected_bits += static_cast<std::uint64_t>(width);
  }
  writer.write_f32(1.5f, Field::metadata);
  writer.write_f64(-2.25, Field::metadata);
  CHECK(writer.size() == expected_bits + 96);
  CHECK(writer.bits().total() == writer.size());
  CHECK(writer.bits().metadata == 96);
  CHECK(bytes.size() == (writer.size() + 7) / 8);

  BitReader reader(bytes);
  for (const auto& [value, width] : written) CHECK(reader.read(width) == value);
  CHECK(reader.read_f32() == 1.5f);
  CHECK(reader.read_f64() == -2.25);
  CHECK_NOTHROW(reader.expect_end());
}

TEST_CASE("BitReader rejects truncated and padded messages", "[core][bits]") {
  std::vector<std::uint8_t> bytes;
  BitWriter writer(bytes);
  writer.write(0x1234, 13, Field::values);

  BitReader reader(bytes);
  CHECK(reader.read(13) == 0x1234);
  CHECK_THROWS_AS(reader.read(4), DecodeError);
  CHECK_THROWS_WITH(BitReader(bytes).read(17), Catch::Contains("truncated"));

  auto padded = bytes;
  padded.push_back(0);
  BitReader long_reader(padded);
  long_reader.read(13);
  CHECK_THROWS_WITH(long_reader.expect_end(), Catch::Contains("unread"));

  auto dirty = bytes;
  dirty.back() |= 0x80;  // a set bit in the padding
  BitReader dirty_reader(dirty);
  dirty_reader.read(13);
  CHECK_THROWS_WITH(dirty_reader.expect_end(), Catch::Contains("padding"));
}
