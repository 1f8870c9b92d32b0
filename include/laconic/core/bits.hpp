#pragma once

// Messages as real bytes. Compressors write their payload with a BitWriter, which counts
// every bit under the field it belongs to (values, indices or metadata); receivers read the
// same bytes back with a BitReader, which refuses to read past the end.

#include <laconic/core/errors.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace laconic {

// Bits on the wire, split by what they carry; and beside them, not part of total(), the count
// the method's own paper uses for the same message (EF21 counts 32k for top-k, LASG 32 + b·p
// for b-bit QSGD), so that curves can be held against published figures. Channels fill it
// (compress::paper_bits); 0 elsewhere.
struct Bits {
  std::uint64_t values = 0;
  std::uint64_t indices = 0;
  std::uint64_t metadata = 0;
  std::uint64_t paper = 0;

  std::uint64_t total() const { return values + indices + metadata; }
  Bits& operator+=(const Bits& other) {
    values += other.values;
    indices += other.indices;
    metadata += other.metadata;
    paper += other.paper;
    return *this;
  }
  friend Bits operator+(Bits a, const Bits& b) { return a += b; }
  friend bool operator==(const Bits&, const Bits&) = default;
};

enum class Field { values, indices, metadata };

// One encoded message: its bytes and how many of its bits carry what.
struct Message {
  std::vector<std::uint8_t> bytes;
  Bits bits;
};

// Appends bits to a message, least significant bit first, 64 at a time: fields accumulate
// in a word that is stored when full. finish() stores the last partial word and must be
// called before the message is used.
class BitWriter {
 public:
  explicit BitWriter(Message& message) : out_(message.bytes), bits_(message.bits) {
    out_.clear();
    bits_ = {};
  }

  // Room for `count` more bits, so that writing them does not reallocate.
  void reserve(std::uint64_t count) { out_.reserve(out_.size() + (fill_ + count) / 8 + 9); }

  // Writes the low `count` bits of `value` (0 ≤ count ≤ 64).
  void write(std::uint64_t value, int count, Field field) {
    add(field, static_cast<std::uint64_t>(count));
    if (count == 0) return;
    if (count < 64) value &= (std::uint64_t{1} << count) - 1;
    word_ |= value << fill_;
    fill_ += count;
    if (fill_ >= 64) {
      store(word_, 8);
      fill_ -= 64;
      // The bits of `value` that did not fit (none when the word was empty before).
      word_ = fill_ > 0 ? value >> (count - fill_) : 0;
    }
  }
  void write_f32(float value, Field field) {
    write(std::bit_cast<std::uint32_t>(value), 32, field);
  }
  void write_f64(double value, Field field) {
    write(std::bit_cast<std::uint64_t>(value), 64, field);
  }

  // Stores the last partial word, zero-padded to whole bytes.
  void finish() {
    store(word_, (fill_ + 7) / 8);
    word_ = 0;
    fill_ = 0;
  }

  std::uint64_t size() const { return bits_.total(); }

 private:
  void store(std::uint64_t word, int bytes) {
    const std::size_t at = out_.size();
    out_.resize(at + static_cast<std::size_t>(bytes));
    for (int i = 0; i < bytes; ++i) {
      out_[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(word >> (8 * i));
    }
  }

  void add(Field field, std::uint64_t count) {
    switch (field) {
      case Field::values:
        bits_.values += count;
        break;
      case Field::indices:
        bits_.indices += count;
        break;
      case Field::metadata:
        bits_.metadata += count;
        break;
    }
  }

  std::vector<std::uint8_t>& out_;
  Bits& bits_;
  std::uint64_t word_ = 0;  // bits not yet stored
  int fill_ = 0;            // how many of word_'s low bits are in use
};

// Reads what a BitWriter wrote. Reading past the end throws DecodeError.
class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::uint64_t read(int count) {
    if (count < 0 || count > 64 || static_cast<std::uint64_t>(count) > remaining()) {
      throw DecodeError(fmt::format("message truncated: {} bits requested at bit {}, {} left",
                                    count, position_, remaining()));
    }
    if (count == 0) return 0;
    const std::size_t at = position_ / 8;
    const int shift = static_cast<int>(position_ % 8);
    // The bytes holding the field: at most 9 (64 bits starting mid-byte).
    const std::size_t span = (static_cast<std::size_t>(shift + count) + 7) / 8;
    std::uint64_t low = 0;
    for (std::size_t i = 0; i < std::min<std::size_t>(span, 8); ++i) {
      low |= std::uint64_t{bytes_[at + i]} << (8 * i);
    }
    std::uint64_t value = low >> shift;
    if (span == 9) value |= std::uint64_t{bytes_[at + 8]} << (64 - shift);
    if (count < 64) value &= (std::uint64_t{1} << count) - 1;
    position_ += static_cast<std::uint64_t>(count);
    return value;
  }
  float read_f32() { return std::bit_cast<float>(static_cast<std::uint32_t>(read(32))); }
  double read_f64() { return std::bit_cast<double>(read(64)); }

  std::uint64_t position() const { return position_; }
  std::uint64_t remaining() const { return bytes_.size() * 8 - position_; }

  // A decoder calls this when done: anything but zero padding to the next byte is corruption.
  void expect_end() const {
    if (remaining() >= 8) {
      throw DecodeError(fmt::format("message has {} unread bits after the payload", remaining()));
    }
    if (remaining() > 0 && (bytes_.back() >> (position_ % 8)) != 0) {
      throw DecodeError("message has non-zero padding bits after the payload");
    }
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::uint64_t position_ = 0;
};

}  // namespace laconic
