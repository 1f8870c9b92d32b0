#pragma once

// Messages as real bytes. Compressors write their payload with a BitWriter, which counts
// every bit under the field it belongs to (values, indices or metadata); receivers read the
// same bytes back with a BitReader, which refuses to read past the end.

#include <laconic/core/errors.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace laconic {

// Bits on the wire, split by what they carry.
struct Bits {
  std::uint64_t values = 0;
  std::uint64_t indices = 0;
  std::uint64_t metadata = 0;

  std::uint64_t total() const { return values + indices + metadata; }
  Bits& operator+=(const Bits& other) {
    values += other.values;
    indices += other.indices;
    metadata += other.metadata;
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

// Appends bits to a byte vector, least significant bit first.
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) { out_.clear(); }

  // Writes the low `count` bits of `value` (0 ≤ count ≤ 64).
  void write(std::uint64_t value, int count, Field field) {
    add(field, static_cast<std::uint64_t>(count));
    for (int done = 0; done < count;) {
      const int offset = static_cast<int>(size_ % 8);
      if (offset == 0) out_.push_back(0);
      const int take = std::min(8 - offset, count - done);
      const auto chunk = static_cast<std::uint8_t>((value >> done) & ((1u << take) - 1));
      out_.back() = static_cast<std::uint8_t>(out_.back() | (chunk << offset));
      done += take;
      size_ += static_cast<std::uint64_t>(take);
    }
  }
  void write_f32(float value, Field field) {
    write(std::bit_cast<std::uint32_t>(value), 32, field);
  }
  void write_f64(double value, Field field) {
    write(std::bit_cast<std::uint64_t>(value), 64, field);
  }

  std::uint64_t size() const { return size_; }
  const Bits& bits() const { return bits_; }

 private:
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
  std::uint64_t size_ = 0;
  Bits bits_;
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
    std::uint64_t value = 0;
    for (int done = 0; done < count;) {
      const int offset = static_cast<int>(position_ % 8);
      const int take = std::min(8 - offset, count - done);
      const std::uint64_t chunk = (bytes_[position_ / 8] >> offset) & ((1u << take) - 1);
      value |= chunk << done;
      done += take;
      position_ += static_cast<std::uint64_t>(take);
    }
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
