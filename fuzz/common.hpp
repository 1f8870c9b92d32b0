#pragma once

// Shared by the fuzz targets and the seed generator: a reader of the fuzzer's leading
// control bytes, and per-process scratch files for the readers that only take a path.

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

namespace laconic::fuzz {

// Takes control bytes off the front of the input; past its end every byte reads as 0, so
// that a short input still means something.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t u16() {
    const auto low = u8();
    return static_cast<std::uint16_t>(low | (u8() << 8));
  }
  // The next n bytes (fewer at the end).
  std::string_view take(std::size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    const std::string_view out(reinterpret_cast<const char*>(data_) + at_, n);
    at_ += n;
    return out;
  }
  std::string_view rest() { return take(size_); }
  bool empty() const { return at_ >= size_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// This process's directory in /dev/shm (memory, so that writing a file per input is cheap),
// or in the temporary directory where there is no /dev/shm; removed at exit (a crash leaves
// it behind, small and named after the process).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code error;
    const std::filesystem::path shm = "/dev/shm";
    const auto base =
        std::filesystem::is_directory(shm, error) ? shm : std::filesystem::temp_directory_path();
    auto own = base / ("laconic_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(own);
    return own;
  }();
  static const bool cleanup = std::atexit([] {
                                std::error_code ignored;
                                std::filesystem::remove_all(scratch_dir(), ignored);
                              }) == 0;
  (void)cleanup;
  return dir;
}

inline std::filesystem::path scratch_file(std::string_view name) {
  return scratch_dir() / std::string(name);
}

inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A broken promise of the code under test: report it and crash, so that libFuzzer keeps the
// input.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz: contract violated: %s\n", what);
  std::abort();
}

}  // namespace laconic::fuzz
