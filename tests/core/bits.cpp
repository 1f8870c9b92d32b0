#include <laconic/core/bits.hpp>
#include <laconic/core/rng.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace laconic;

TEST_CASE("BitWriter and BitReader round-trip fields of any width", "[core][bits]") {
  RandomStream rng(3, Purpose::user);
  std::vector<std::pair<std::uint64_t, int>> written;
  Message message;
  BitWriter writer(message);
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
  writer.finish();
  CHECK(writer.size() == expected_bits + 96);
  CHECK(message.bits.total() == writer.size());
  CHECK(message.bits.metadata == 96);
  CHECK(message.bytes.size() == (writer.size() + 7) / 8);

  BitReader reader(message.bytes);
  for (const auto& [value, width] : written) CHECK(reader.read(width) == value);
  CHECK(reader.read_f32() == 1.5f);
  CHECK(reader.read_f64() == -2.25);
  CHECK_NOTHROW(reader.expect_end());
}

TEST_CASE("BitReader rejects truncated and padded messages", "[core][bits]") {
  Message message;
  BitWriter writer(message);
  writer.write(0x1234, 13, Field::values);
  writer.finish();
  const std::vector<std::uint8_t>& bytes = message.bytes;

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

TEST_CASE("BitWriter lays bits out least significant first, across word boundaries",
          "[core][bits]") {
  Message message;
  BitWriter writer(message);
  writer.write(0b101, 3, Field::metadata);
  writer.write(0xFF, 8, Field::values);
  writer.finish();
  CHECK(message.bytes == std::vector<std::uint8_t>{0xFD, 0x07});

  // A 64-bit field starting at bit 3 spans nine bytes.
  BitWriter again(message);
  again.write(0, 3, Field::metadata);
  again.write(0x8000'0000'0000'0001, 64, Field::values);
  again.finish();
  REQUIRE(message.bytes.size() == 9);
  CHECK(message.bytes[0] == 0x08);
  CHECK(message.bytes[7] == 0x00);
  CHECK(message.bytes[8] == 0x04);
  BitReader reader(message.bytes);
  CHECK(reader.read(3) == 0);
  CHECK(reader.read(64) == 0x8000'0000'0000'0001);
  CHECK_NOTHROW(reader.expect_end());
}
