#pragma once

// Helpers shared by the tests.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>

namespace laconic::test {

// The directory of the shared real datasets, or nullopt when it is absent.
inline std::optional<std::filesystem::path> data_dir() {
  const char* env = std::getenv("LACONIC_DATA_DIR");
  std::filesystem::path dir = env != nullptr ? env : LACONIC_TEST_DATA_DIR;
  if (!std::filesystem::is_directory(dir)) return std::nullopt;
  return dir;
}

// The path of a shared dataset file, or nullopt (with a SKIPPED message) when it is absent.
inline std::optional<std::filesystem::path> data_file(const std::string& name) {
  const auto dir = data_dir();
  if (dir && std::filesystem::exists(*dir / name)) return *dir / name;
  WARN("SKIPPED: data file " << name << " not found (set LACONIC_DATA_DIR)");
  return std::nullopt;
}

// Writes `text` to a fresh temporary file and returns its path.
inline std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "laconic_tests";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The whole contents of a file ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The message of the std::invalid_argument that make() throws, or "accepted" when it throws
// none: what a constructor refuses, and why.
template <class F>
std::string refusal(F&& make) {
  try {
    make();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace laconic::test
