#include <laconic/data/io.hpp>
#include <laconic/data/libsvm.hpp>

#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
#include <zlib.h>
#endif

using Catch::Matchers::Contains;
using laconic::ParseError;
using laconic::data::read_file;

namespace {

#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
// Writes `text` as a gzip file with zlib's own writer; mode "ab" appends another member.
void write_gzip(const std::filesystem::path& path, const std::string& text,
                const char* mode = "wb") {
  gzFile file = gzopen(path.c_str(), mode);
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  REQUIRE(gzclose(file) == Z_OK);
}
#endif

}  // namespace

TEST_CASE("read_file returns the bytes of a file", "[data][io]") {
  std::string bytes = "line one\r\nline two";
  bytes.push_back('\0');
  bytes += "\xff\x01 after a NUL";
  const auto path = laconic::test::write_temp("io_plain.bin", bytes);
  CHECK(read_file(path) == bytes);
  CHECK(read_file(laconic::test::write_temp("io_empty.bin", "")).empty());

  // Larger than any first guess of the buffer.
  std::string big(3 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7919) big[i] = static_cast<char>('a' + i % 26);
  CHECK(read_file(laconic::test::write_temp("io_big.bin", big)) == big);
}

TEST_CASE("read_file names the path of a missing or unreadable file", "[data][io]") {
  const auto missing = std::filesystem::temp_directory_path() / "laconic_tests" / "no_such_file";
  CHECK_THROWS_WITH(read_file(missing), Contains("cannot open") && Contains(missing.string()));
  const auto directory = std::filesystem::temp_directory_path();
  CHECK_THROWS_WITH(read_file(directory),
                    Contains(directory.string()) && Contains("is a directory"));
}

TEST_CASE("gzip magic detection", "[data][io]") {
  CHECK(laconic::data::is_gzip("\x1f\x8b\x08"));
  CHECK_FALSE(laconic::data::is_gzip("\x1f"));
  CHECK_FALSE(laconic::data::is_gzip("1 1:1"));
}

#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB

TEST_CASE("read_file decompresses gzip files", "[data][io]") {
  STATIC_REQUIRE(laconic::data::has_gzip_support);
  const std::string text = "+1 1:0.5 3:2\n-1 2:1\n";
  const auto path = laconic::test::write_temp("io_round.gz", "");
  write_gzip(path, text);
  CHECK(read_file(path) == text);

  SECTION("through a reader") {
    const auto data = laconic::data::read_libsvm(path);
    CHECK(data.rows() == 2);
    CHECK(data.cols() == 3);
  }

  SECTION("large, highly compressible content") {
    std::string big;
    for (int i = 0; i < 200000; ++i) big += "-1 1:1 7:0.25\n";
    write_gzip(path, big);
    CHECK(read_file(path) == big);
  }

  SECTION("concatenated members, the last one small") {
    std::string first(1 << 20, 'a');
    write_gzip(path, first);
    write_gzip(path, "tail", "ab");
    CHECK(read_file(path) == first + "tail");
  }

  SECTION("an empty member") {
    write_gzip(path, "");
    CHECK(read_file(path).empty());
  }
}

TEST_CASE("corrupt or truncated gzip data names the file and the byte", "[data][io]") {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += std::to_string(i * 7919 % 10007) + " 1:1\n";
  const auto good = laconic::test::write_temp("io_good.gz", "");
  write_gzip(good, text);
  const std::string bytes = read_file(good);
  REQUIRE(bytes == text);
  std::string compressed;
  {
    std::ifstream in(good, std::ios::binary);
    compressed.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(compressed.size() > 100);

  SECTION("truncated") {
    const auto path =
        laconic::test::write_temp("io_truncated.gz", compressed.substr(0, compressed.size() / 2));
    CHECK_THROWS_AS(read_file(path), ParseError);
    CHECK_THROWS_WITH(read_file(path), Contains(path.string()) && Contains("truncated"));
  }
  SECTION("corrupted") {
    std::string bad = compressed;
    for (std::size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(~bad[i]);
    const auto path = laconic::test::write_temp("io_corrupt.gz", bad);
    CHECK_THROWS_AS(read_file(path), ParseError);
    CHECK_THROWS_WITH(read_file(path), Contains(path.string()) && Contains("byte"));
  }
  SECTION("trailing garbage") {
    const auto path = laconic::test::write_temp("io_trailing.gz", compressed + "garbage");
    CHECK_THROWS_WITH(read_file(path), Contains(path.string()) && Contains("7 more bytes"));
  }
  SECTION("only the magic number") {
    const auto path = laconic::test::write_temp("io_magic.gz", "\x1f\x8b");
    CHECK_THROWS_AS(read_file(path), ParseError);
  }
}

#else

TEST_CASE("without zlib, gzip files are refused clearly", "[data][io]") {
  STATIC_REQUIRE_FALSE(laconic::data::has_gzip_support);
  const auto path = laconic::test::write_temp("io_nozlib.gz", "\x1f\x8b\x08\x00");
  CHECK_THROWS_WITH(read_file(path), Contains(path.string()) && Contains("zlib"));
}

#endif
