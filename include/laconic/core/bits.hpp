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
#include <utility>
#include <vector>

namespace laconic {

namespace detail {

// A 64-bit word as the 8 little-endian bytes of the wire, at any byte address.
inline std::uint64_t load_le64(const std::uint8_t* at) {
  std::uint64_t word;
  std::memcpy(&word, at, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}
inline std::uint64_t to_le64(std::uint64_t word) {
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

// Calls f.template operator()<W>() with W = width, for 1 ≤ width ≤ 32: the bulk reads and
// writes are compiled for each width, so that their shifts and masks are constants.
template <class F, int... Widths>
void with_width(int width, F&& f, std::integer_sequence<int, Widths...>) {
  (void)((width == Widths + 1 ? (f.template operator()<Widths + 1>(), true) : false) || ...);
}
template <class F>
void with_width(int width, F&& f) {
  with_width(width, f, std::make_integer_sequence<int, 32>{});
}

}  // namespace detail

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

  // n whole 64-bit words, as n calls of write(words[i], 64, field) would write them, but with
  // one bounds check and a block copy per 64 words: the hot loops of the compressors pack
  // their fields into words on the stack and hand them over here.
  void write_words(const std::uint64_t* words, std::size_t n, Field field) {
    add(field, 64 * static_cast<std::uint64_t>(n));
    put_words(words, n);
  }

  // n fields of `width` bits (1 ≤ width ≤ 32), the low bits of fields[i], as n calls of
  // write(fields[i], width, field) would write them. Compiled for each width: when it divides
  // 64, whole words of fields are packed with constant shifts (a loop that vectorises);
  // otherwise up to 8 fields are gathered into a chunk, and the chunks go into a word kept
  // in a register, stored when full.
  void write_fields(const std::uint32_t* fields, std::size_t n, int width, Field field) {
    add(field, static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(width));
    detail::with_width(width, [&]<int Width>() {
      std::size_t done = 0;
      if constexpr (64 % Width == 0) done = put_packed<Width>(fields, n);
      put_chunks<Width>(fields + done, n - done);
    });
  }

  // Stores the last partial word, zero-padded to whole bytes.
  void finish() {
    store(word_, (fill_ + 7) / 8);
    word_ = 0;
    fill_ = 0;
  }

  std::uint64_t size() const { return bits_.total(); }

 private:
  static constexpr std::size_t block_words = 64;  // 512 bytes of staging on the stack

  // The n words, as write_words writes them (the bits already counted).
  void put_words(const std::uint64_t* words, std::size_t n) {
    std::uint64_t staged[block_words];
    while (n > 0) {
      const std::size_t m = std::min(n, block_words);
      if (fill_ == 0) {
        for (std::size_t j = 0; j < m; ++j) staged[j] = detail::to_le64(words[j]);
      } else {
        // Each word completes the pending one and leaves its top fill_ bits pending.
        for (std::size_t j = 0; j < m; ++j) {
          staged[j] = detail::to_le64(word_ | (words[j] << fill_));
          word_ = words[j] >> (64 - fill_);
        }
      }
      append(staged, m);
      words += m;
      n -= m;
    }
  }

  // The first fields, 64/Width to a word, as many as fill whole words; returns how many.
  template <int Width>
  std::size_t put_packed(const std::uint32_t* fields, std::size_t n) {
    constexpr std::size_t per_word = 64 / Width;
    constexpr std::uint64_t mask = (std::uint64_t{1} << Width) - 1;
    std::uint64_t packed[block_words];
    const std::size_t words = n / per_word;
    for (std::size_t start = 0; start < words; start += block_words) {
      const std::size_t m = std::min(block_words, words - start);
      const std::uint32_t* from = fields + start * per_word;
      if constexpr (Width <= 8) {
        // A byte at a time, which vectorises without the shuffles 64-bit words need (twice
        // as fast for 4-bit fields); the bytes are the words' little-endian bytes.
        constexpr std::size_t per_byte = 8 / Width;
        std::uint8_t bytes[8 * block_words];
        for (std::size_t j = 0; j < 8 * m; ++j) {
          std::uint32_t byte = 0;
          for (std::size_t k = 0; k < per_byte; ++k) {
            byte |= (from[j * per_byte + k] & static_cast<std::uint32_t>(mask)) << (k * Width);
          }
          bytes[j] = static_cast<std::uint8_t>(byte);
        }
        for (std::size_t j = 0; j < m; ++j) packed[j] = detail::load_le64(bytes + 8 * j);
      } else {
        for (std::size_t j = 0; j < m; ++j) {
          std::uint64_t word = 0;
          for (std::size_t k = 0; k < per_word; ++k) {
            word |= (from[j * per_word + k] & mask) << (k * Width);
          }
          packed[j] = word;
        }
      }
      put_words(packed, m);
    }
    return words * per_word;
  }

  // The n fields through a word kept in a register, stored when full (the bits already
  // counted): a chunk of up to 8 of them (at most 63 bits) at a time, so that the test for a
  // full word is made once per chunk; the last ones one at a time.
  template <int Width>
  void put_chunks(const std::uint32_t* fields, std::size_t n) {
    constexpr int per_chunk = std::min(63 / Width, 8);
    constexpr std::uint64_t mask = (std::uint64_t{1} << Width) - 1;
    std::uint64_t staged[block_words];
    std::size_t count = 0;
    std::uint64_t word = word_;
    int fill = fill_;
    const auto put = [&](std::uint64_t value, int bits) {
      word |= value << fill;
      fill += bits;
      if (fill >= 64) {
        staged[count++] = detail::to_le64(word);
        fill -= 64;
        // The bits of `value` that did not fit: none when fill is now 0 (a shift by
        // bits ≤ 63 of a value below 2^bits).
        word = value >> (bits - fill);
        if (count == block_words) {
          append(staged, count);
          count = 0;
        }
      }
    };
    std::size_t i = 0;
    for (; i + per_chunk <= n; i += per_chunk) {
      std::uint64_t chunk = 0;
      for (int j = 0; j < per_chunk; ++j) {
        chunk |= (fields[i + static_cast<std::size_t>(j)] & mask) << (j * Width);
      }
      put(chunk, per_chunk * Width);
    }
    for (; i < n; ++i) put(fields[i] & mask, Width);
    append(staged, count);
    word_ = word;
    fill_ = fill;
  }

  void store(std::uint64_t word, int bytes) {
    if (bytes == 0) return;
    const std::size_t at = out_.size();
    out_.resize(at + static_cast<std::size_t>(bytes));
    const std::uint64_t le = detail::to_le64(word);
    std::memcpy(out_.data() + at, &le, static_cast<std::size_t>(bytes));
  }

  // Appends n little-endian words. (resize() and a copy, not insert(), on which GCC 12 warns
  // -Wstringop-overflow in some inlining contexts; the zero-filling of 512 bytes is cheap.)
  void append(const std::uint64_t* staged, std::size_t n) {
    if (n == 0) return;  // out_.data() may be null then, which memcpy must not be given
    const std::size_t at = out_.size();
    out_.resize(at + 8 * n);
    std::memcpy(out_.data() + at, staged, 8 * n);
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
      truncated(count);
    }
    if (count == 0) return 0;
    const std::uint64_t value = peek64(position_);
    position_ += static_cast<std::uint64_t>(count);
    return count < 64 ? value & ((std::uint64_t{1} << count) - 1) : value;
  }

  // n whole 64-bit words, as n calls of read(64) would return them; throws DecodeError, and
  // reads nothing, unless all 64n bits are there.
  void read_words(std::uint64_t* words, std::size_t n) {
    if (n > remaining() / 64) truncated(64 * static_cast<std::uint64_t>(n));
    const std::uint8_t* at = bytes_.data() + position_ / 8;
    const int shift = static_cast<int>(position_ % 8);
    if (shift == 0) {
      for (std::size_t j = 0; j < n; ++j) words[j] = detail::load_le64(at + 8 * j);
    } else {
      // Each word's last bits are in the ninth byte, which is there since they are.
      for (std::size_t j = 0; j < n; ++j) {
        words[j] = (detail::load_le64(at + 8 * j) >> shift) |
                   (std::uint64_t{at[8 * j + 8]} << (64 - shift));
      }
    }
    position_ += 64 * static_cast<std::uint64_t>(n);
  }

  // n fields of `width` bits (1 ≤ width ≤ 32), as n calls of read(width) would return them;
  // throws DecodeError, and reads nothing, unless all of them are there. Compiled for each
  // width: when it divides 64, whole words are read and unpacked with constant shifts;
  // otherwise up to 8 fields come from each unaligned 8-byte load (57 usable bits) while one
  // fits in the message, and the last few from read().
  void read_fields(std::uint32_t* fields, std::size_t n, int width) {
    const auto w = static_cast<std::uint64_t>(width);
    if (n > remaining() / w) truncated(static_cast<std::uint64_t>(n) * w);
    std::size_t done = 0;
    detail::with_width(width, [&]<int Width>() {
      if constexpr (64 % Width == 0) {
        done = take_packed<Width>(fields, n);
      } else {
        done = take_loaded<Width>(fields, n);
      }
    });
    for (; done < n; ++done) fields[done] = static_cast<std::uint32_t>(read(width));
  }

  // Calls f(field) for n fields of `width` bits (1 ≤ width ≤ 32), in order, as n calls of
  // read(width) would give them; throws DecodeError, and reads nothing, unless all of them are
  // there. Compiled for each width, up to 8 fields from each 8-byte load, like read_fields,
  // but with no array in between: a decoder can turn each field into its value at once.
  template <class F>
  void for_each_field(std::size_t n, int width, F&& f) {
    const auto w = static_cast<std::uint64_t>(width);
    if (n > remaining() / w) truncated(static_cast<std::uint64_t>(n) * w);
    std::size_t done = 0;
    detail::with_width(width, [&]<int Width>() {
      constexpr std::size_t per_load = std::min(57 / Width, 8);
      constexpr std::uint64_t mask = (std::uint64_t{1} << Width) - 1;
      const std::uint64_t end = bytes_.size() >= 8 ? 8 * (bytes_.size() - 7) : 0;
      const std::uint8_t* data = bytes_.data();
      std::uint64_t bit = position_;
      for (; done + per_load <= n && bit < end; done += per_load, bit += per_load * Width) {
        const std::uint64_t loaded = detail::load_le64(data + bit / 8) >> (bit % 8);
        for (std::size_t j = 0; j < per_load; ++j) {
          f(static_cast<std::uint32_t>((loaded >> (j * Width)) & mask));
        }
      }
      position_ = bit;
    });
    for (; done < n; ++done) f(static_cast<std::uint32_t>(read(width)));
  }

  // Moves past `count` bits; throws DecodeError, and moves nothing, unless they are there.
  void skip(std::uint64_t count) {
    if (count > remaining()) truncated(count);
    position_ += count;
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
  static constexpr std::size_t block_words = 64;

  // The first fields, 64/Width to a word, as many as fill whole words; returns how many. The
  // caller has checked that they are all there.
  template <int Width>
  std::size_t take_packed(std::uint32_t* fields, std::size_t n) {
    constexpr std::size_t per_word = 64 / Width;
    constexpr std::uint64_t mask = (std::uint64_t{1} << Width) - 1;
    std::uint64_t words[block_words];
    const std::size_t total = n / per_word;
    for (std::size_t start = 0; start < total; start += block_words) {
      const std::size_t m = std::min(block_words, total - start);
      read_words(words, m);
      std::uint32_t* to = fields + start * per_word;
      if constexpr (Width <= 8) {
        // A byte at a time, as put_packed writes them.
        constexpr std::size_t per_byte = 8 / Width;
        std::uint8_t bytes[8 * block_words];
        for (std::size_t j = 0; j < m; ++j) {
          const std::uint64_t le = detail::to_le64(words[j]);
          std::memcpy(bytes + 8 * j, &le, sizeof le);
        }
        for (std::size_t j = 0; j < 8 * m; ++j) {
          for (std::size_t k = 0; k < per_byte; ++k) {
            to[j * per_byte + k] = (std::uint32_t{bytes[j]} >> (k * Width)) & std::uint32_t{mask};
          }
        }
      } else {
        for (std::size_t j = 0; j < m; ++j) {
          for (std::size_t k = 0; k < per_word; ++k) {
            to[j * per_word + k] = static_cast<std::uint32_t>((words[j] >> (k * Width)) & mask);
          }
        }
      }
    }
    return total * per_word;
  }

  // The first of the n fields, up to 8 from each 8-byte load (at most 57 bits, what a load
  // shifted by up to 7 holds), as long as the loads lie in the message; returns how many, and
  // moves the position past them.
  template <int Width>
  std::size_t take_loaded(std::uint32_t* fields, std::size_t n) {
    constexpr std::size_t per_load = std::min(57 / Width, 8);
    constexpr std::uint64_t mask = (std::uint64_t{1} << Width) - 1;
    // A load at bit b lies in the message when b < 8·(size − 7).
    const std::uint64_t end = bytes_.size() >= 8 ? 8 * (bytes_.size() - 7) : 0;
    const std::uint8_t* data = bytes_.data();
    std::uint64_t bit = position_;
    std::size_t i = 0;
    for (; i + per_load <= n && bit < end; i += per_load, bit += per_load * Width) {
      const std::uint64_t loaded = detail::load_le64(data + bit / 8) >> (bit % 8);
      for (std::size_t j = 0; j < per_load; ++j) {
        fields[i + j] = static_cast<std::uint32_t>((loaded >> (j * Width)) & mask);
      }
    }
    position_ = bit;
    return i;
  }

  template <class Count>
  [[noreturn]] void truncated(Count count) const {
    throw DecodeError(fmt::format("message truncated: {} bits requested at bit {}, {} left", count,
                                  position_, remaining()));
  }

  // The 64 bits from bit `at` on, as far as the message goes (zeros beyond its end).
  std::uint64_t peek64(std::uint64_t at) const {
    const std::size_t byte = at / 8;
    const int shift = static_cast<int>(at % 8);
    const std::size_t size = bytes_.size();
    std::uint64_t low;
    if (byte + 8 <= size) {
      low = detail::load_le64(bytes_.data() + byte);
    } else {
      low = 0;
      for (std::size_t i = 0; byte + i < size; ++i) {
        low |= std::uint64_t{bytes_[byte + i]} << (8 * i);
      }
    }
    std::uint64_t value = low >> shift;
    if (shift != 0 && byte + 8 < size) value |= std::uint64_t{bytes_[byte + 8]} << (64 - shift);
    return value;
  }

  std::span<const std::uint8_t> bytes_;
  std::uint64_t position_ = 0;
};

}  // namespace laconic
