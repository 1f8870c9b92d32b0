#pragma once

// Saving and restoring state as bytes. A stateful part of a run describes its state once,
//
//   template <class Io> void state(Io& io) { io(theta_); io(staleness_); io(window_); }
//
// and the same function serves both directions: ArchiveWriter appends each field, and
// ArchiveReader reads it back, refusing anything that runs past the end. Fields are numbers,
// bools, Vectors, strings, std::vectors of fields, and objects with such a state() member.
// Little-endian, fixed widths, so a checkpoint moves between machines.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>

#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace laconic {

template <class T, class Io>
concept HasState = requires(T& t, Io& io) {
  t.state(io);
};

class ArchiveWriter {
 public:
  template <class T>
  void operator()(const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      word(value ? 1 : 0);
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
      word(static_cast<std::uint64_t>(value));
    } else if constexpr (std::is_same_v<T, double>) {
      word(std::bit_cast<std::uint64_t>(value));
    } else if constexpr (std::is_same_v<T, Vector>) {
      word(static_cast<std::uint64_t>(value.size()));
      for (Index i = 0; i < value.size(); ++i) word(std::bit_cast<std::uint64_t>(value[i]));
    } else if constexpr (std::is_same_v<T, std::string>) {
      word(value.size());
      bytes_.append(value);
    } else if constexpr (requires {
                           value.size();
                           value.begin();
                         }) {
      word(value.size());
      for (const auto& v : value) (*this)(v);
    } else {
      static_assert(HasState<T, ArchiveWriter>, "a field needs a state(io) member");
      const_cast<T&>(value).state(*this);  // state() only reads when given a writer
    }
  }

  const std::string& bytes() const { return bytes_; }

 private:
  void word(std::uint64_t w) {
    for (int b = 0; b < 8; ++b) bytes_.push_back(static_cast<char>((w >> (8 * b)) & 0xff));
  }
  std::string bytes_;
};

// The length of every Vector, list and string in a state, in order: what a loaded state must
// share with the one it replaces wherever the run, not the history, fixes the sizes.
class ArchiveShape {
 public:
  template <class T>
  void operator()(const T& value) {
    if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      return;
    } else if constexpr (std::is_same_v<T, Vector> || std::is_same_v<T, std::string>) {
      lengths_.push_back(static_cast<std::uint64_t>(value.size()));
    } else if constexpr (requires {
                           value.size();
                           value.begin();
                         }) {
      lengths_.push_back(value.size());
      for (const auto& v : value) (*this)(v);
    } else {
      static_assert(HasState<T, ArchiveShape>, "a field needs a state(io) member");
      const_cast<T&>(value).state(*this);  // state() only reads when given a shape
    }
  }
  bool operator==(const ArchiveShape&) const = default;

 private:
  std::vector<std::uint64_t> lengths_;
};

class ArchiveReader {
 public:
  // `source` names the bytes in error messages (a file name).
  ArchiveReader(std::string_view bytes, std::string source)
      : bytes_(bytes), source_(std::move(source)) {}

  template <class T>
  void operator()(T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      const std::uint64_t w = word("a flag");
      if (w > 1) fail(fmt::format("a flag holds {}", w));
      value = w == 1;
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
      value = static_cast<T>(word("an integer"));
    } else if constexpr (std::is_same_v<T, double>) {
      value = std::bit_cast<double>(word("a number"));
    } else if constexpr (std::is_same_v<T, Vector>) {
      const auto n = count(8, "a vector");
      value.resize(static_cast<Index>(n));
      for (Index i = 0; i < value.size(); ++i) value[i] = std::bit_cast<double>(word("a vector"));
    } else if constexpr (std::is_same_v<T, std::string>) {
      const auto n = count(1, "a string");
      value.assign(bytes_.substr(at_, n));
      at_ += n;
    } else if constexpr (requires {
                           value.resize(0);
                           value.begin();
                         }) {
      value.resize(count(8, "a list"));
      for (auto& v : value) (*this)(v);
    } else {
      static_assert(HasState<T, ArchiveReader>, "a field needs a state(io) member");
      value.state(*this);
    }
  }

  bool at_end() const { return at_ == bytes_.size(); }
  std::size_t position() const { return at_; }
  [[noreturn]] void fail(std::string_view what) const {
    throw CheckpointError(fmt::format("{}: at byte {} of the state: {}", source_, at_, what));
  }

 private:
  std::uint64_t word(std::string_view what) {
    if (bytes_.size() - at_ < 8) fail(fmt::format("truncated while reading {}", what));
    std::uint64_t w = 0;
    for (int b = 0; b < 8; ++b) {
      w |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[at_ + b])) << (8 * b);
    }
    at_ += 8;
    return w;
  }
  // A length, refused when its items (at least `item_bytes` each) cannot fit in what is left.
  std::size_t count(std::size_t item_bytes, std::string_view what) {
    const std::uint64_t n = word(what);
    if (n > (bytes_.size() - at_) / item_bytes) {
      fail(fmt::format("{} of length {} does not fit in the {} bytes left", what, n,
                       bytes_.size() - at_));
    }
    return static_cast<std::size_t>(n);
  }

  std::string_view bytes_;
  std::string source_;
  std::size_t at_ = 0;
};

}  // namespace laconic
