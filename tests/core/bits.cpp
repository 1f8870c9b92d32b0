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

  REQUIRE(bytes.size() == 2);
  // A set bit in the padding. (Built byte by byte: on a copy of bytes, GCC 12 warns, wrongly,
  // that the copy may be empty.)
  std::vector<std::uint8_t> dirty{bytes[0], static_cast<std::uint8_t>(bytes[1] | 0x80)};
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

namespace {

// Random fields of the given width (1..32), written between random scalar fields so that the
// bulk writes start at every offset within a word.
std::vector<std::uint32_t> random_fields(RandomStream& rng, std::size_t n, int width) {
  std::vector<std::uint32_t> fields(n);
  for (auto& field : fields) {
    field = static_cast<std::uint32_t>(rng.next_u64() >> (64 - width));
  }
  return fields;
}

}  // namespace

TEST_CASE("bulk writes and reads agree with field-at-a-time ones at every offset", "[core][bits]") {
  RandomStream rng(11, Purpose::user);
  for (int offset = 0; offset < 64; ++offset) {
    for (const int width : {1, 2, 3, 4, 7, 8, 9, 13, 16, 17, 21, 31, 32}) {
      // Enough fields to cross the 512-byte staging block, and short runs too.
      for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5},
                                  std::size_t{4099 / static_cast<std::size_t>(width) + 77}}) {
        INFO("offset " << offset << ", width " << width << ", n " << n);
        const std::vector<std::uint32_t> fields = random_fields(rng, n, width);
        std::vector<std::uint64_t> words(n / 3 + 1);
        for (auto& word : words) word = rng.next_u64();
        const std::uint64_t head = rng.next_u64() & ((std::uint64_t{1} << offset) - 1);
        const std::uint64_t tail = rng.next_u64() & 0x7F;

        Message bulk;
        BitWriter writer(bulk);
        writer.write(head, offset, Field::metadata);
        writer.write_fields(fields.data(), n, width, Field::values);
        writer.write_words(words.data(), words.size(), Field::indices);
        writer.write(tail, 7, Field::metadata);
        writer.finish();

        Message single;
        BitWriter reference(single);
        reference.write(head, offset, Field::metadata);
        for (const std::uint32_t field : fields) reference.write(field, width, Field::values);
        for (const std::uint64_t word : words) reference.write(word, 64, Field::indices);
        reference.write(tail, 7, Field::metadata);
        reference.finish();
        REQUIRE(bulk.bits == single.bits);
        REQUIRE(bulk.bytes == single.bytes);

        BitReader reader(bulk.bytes);
        CHECK(reader.read(offset) == head);
        std::vector<std::uint32_t> read_back(n);
        reader.read_fields(read_back.data(), n, width);
        CHECK(read_back == fields);
        std::vector<std::uint64_t> words_back(words.size());
        reader.read_words(words_back.data(), words_back.size());
        CHECK(words_back == words);
        CHECK(reader.read(7) == tail);
        CHECK_NOTHROW(reader.expect_end());
      }
    }
  }
}

TEST_CASE("bulk writes keep only the low bits of each field", "[core][bits]") {
  const std::uint32_t fields[3] = {0xFFFF'FFFF, 0x5, 0xFFFF'FFF2};
  Message message;
  BitWriter writer(message);
  writer.write_fields(fields, 3, 3, Field::values);
  writer.finish();
  CHECK(message.bits == Bits{.values = 9});
  CHECK(message.bytes == std::vector<std::uint8_t>{0xAF, 0x00});  // 111 101 010
}

TEST_CASE("bulk reads refuse to run past the end and read nothing then", "[core][bits]") {
  Message message;
  BitWriter writer(message);
  const std::uint64_t words[2] = {0x0123'4567'89AB'CDEF, 0xFEDC'BA98'7654'3210};
  writer.write(1, 3, Field::metadata);
  writer.write_words(words, 2, Field::values);
  writer.finish();  // 131 bits in 17 bytes

  BitReader reader(message.bytes);
  CHECK(reader.read(3) == 1);
  std::uint64_t three[3];
  CHECK_THROWS_WITH(reader.read_words(three, 3), Catch::Contains("truncated"));
  std::uint32_t fields[20];
  CHECK_THROWS_AS(reader.read_fields(fields, 20, 7), DecodeError);  // 140 > 133 bits left
  CHECK(reader.position() == 3);
  reader.read_fields(fields, 19, 7);  // 133 bits: up to the last bit, padding included
  CHECK(reader.remaining() == 0);
  std::uint64_t back[2];
  BitReader again(message.bytes);
  again.read(3);
  again.read_words(back, 2);
  CHECK(back[0] == words[0]);
  CHECK(back[1] == words[1]);
  CHECK_NOTHROW(again.expect_end());
}
