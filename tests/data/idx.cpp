#include <laconic/data/idx.hpp>

#include "data/fixtures.hpp"
#include "support.hpp"

#include <cstdint>
#include <string>
#include <vector>

#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
#include <zlib.h>
#endif

using Catch::Matchers::Contains;
using laconic::Index;
using laconic::ParseError;
using laconic::data::Dataset;
using laconic::data::read_idx_images;
using laconic::data::read_idx_labels;
using laconic::data::read_mnist;
using laconic::test::dense_of;

namespace {

std::string big_endian(std::uint32_t x) {
  return {static_cast<char>(x >> 24), static_cast<char>(x >> 16), static_cast<char>(x >> 8),
          static_cast<char>(x)};
}

std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                       const std::vector<unsigned char>& pixels) {
  std::string bytes = big_endian(0x803) + big_endian(count) + big_endian(rows) + big_endian(cols);
  bytes.append(pixels.begin(), pixels.end());
  return bytes;
}

std::string idx_labels(const std::vector<unsigned char>& labels) {
  std::string bytes = big_endian(0x801) + big_endian(static_cast<std::uint32_t>(labels.size()));
  bytes.append(labels.begin(), labels.end());
  return bytes;
}

}  // namespace

TEST_CASE("IDX images and labels", "[data][idx]") {
  // Three 2x2 images.
  const std::vector<unsigned char> pixels{0, 255, 51, 0, 1, 2, 3, 4, 0, 0, 0, 102};
  const auto images = laconic::test::write_temp("idx_images", idx_images(3, 2, 2, pixels));
  const auto labels = laconic::test::write_temp("idx_labels", idx_labels({7, 0, 3}));

  const laconic::DenseMatrix x = read_idx_images(images);
  REQUIRE(x.rows() == 3);
  REQUIRE(x.cols() == 4);
  CHECK(x(0, 1) == 1.0);
  CHECK(x(0, 2) == 0.2);
  CHECK(x(1, 3) == 4 / 255.0);
  CHECK(x(2, 3) == 0.4);
  const laconic::Vector y = read_idx_labels(labels);
  CHECK(y == laconic::Vector{{7.0, 0.0, 3.0}});

  const Dataset data = read_mnist(images, labels);
  CHECK(data.task() == laconic::data::Task::multiclass);
  CHECK(data.num_classes() == 10);
  CHECK(data.labels() == y);
  CHECK(dense_of(data) == x);

  SECTION("labels beyond 9 widen the classes") {
    const auto wide = laconic::test::write_temp("idx_labels_wide", idx_labels({12, 0, 3}));
    CHECK(read_mnist(images, wide).num_classes() == 13);
  }
  SECTION("mostly-zero images are stored as CSR") {
    std::vector<unsigned char> sparse(4 * 100, 0);
    for (std::size_t i = 0; i < sparse.size(); i += 37) sparse[i] = 200;
    const auto path = laconic::test::write_temp("idx_sparse", idx_images(4, 10, 10, sparse));
    const auto four = laconic::test::write_temp("idx_labels4", idx_labels({1, 2, 3, 4}));
    const Dataset mostly_zero = read_mnist(path, four);
    CHECK(mostly_zero.is_sparse());
    CHECK(mostly_zero.sparse().nonZeros() == 11);
    CHECK(dense_of(mostly_zero) == read_idx_images(path));
  }
}

TEST_CASE("malformed IDX files name the file and the byte", "[data][idx]") {
  const std::vector<unsigned char> pixels(2 * 3 * 3, 9);
  const std::string good = idx_images(2, 3, 3, pixels);
  const auto check = [](const std::string& bytes, const std::string& expected) {
    const auto path = laconic::test::write_temp("idx_bad", bytes);
    INFO("expected: " << expected);
    CHECK_THROWS_AS(read_idx_images(path), ParseError);
    CHECK_THROWS_WITH(read_idx_images(path), Contains(path.string() + ": " + expected));
  };
  check("", "byte 0: expected a 4-byte IDX magic number");
  check(std::string(2, '\0'), "byte 2: expected a 4-byte IDX magic number");
  check(idx_labels({1, 2}),
        "byte 0: expected magic number 0x00000803 (IDX unsigned-byte images), found "
        "0x00000801 (an IDX labels file)");
  check("P5 28 28\n255\n", "byte 0: expected magic number 0x00000803");
  check(good.substr(0, 10), "byte 10: expected a 16-byte header (3 dimensions)");
  check(good.substr(0, 16 + 17), "byte 33: expected 18 bytes of data after the header (2 x 3 x 3)");
  check(good + "xy",
        "byte 34: expected the end of the file after 18 bytes of data (2 x 3 x 3), found 2 "
        "trailing bytes");
  check(idx_images(0, 3, 3, {}), "byte 4: expected at least one image");
  check(big_endian(0x803) + big_endian(0xffffffff) + big_endian(0xffffffff) +
            big_endian(0xffffffff) + "abc",
        "byte 19: expected more than 2^64 bytes of data");

  const auto labels = laconic::test::write_temp("idx_bad_labels", idx_labels({1, 2}) + "\x05");
  CHECK_THROWS_WITH(read_idx_labels(labels), Contains("found 1 trailing bytes"));
}

TEST_CASE("read_mnist checks that images and labels match", "[data][idx]") {
  const auto images =
      laconic::test::write_temp("idx_match_images", idx_images(3, 1, 2, {1, 2, 3, 4, 5, 6}));
  const auto labels = laconic::test::write_temp("idx_match_labels", idx_labels({1, 2}));
  CHECK_THROWS_AS(read_mnist(images, labels), ParseError);
  CHECK_THROWS_WITH(
      read_mnist(images, labels),
      Contains(labels.string() + ": byte 4: expected 3 labels, one for each image in " +
               images.string() + ", found 2"));
  CHECK_THROWS_WITH(read_mnist(labels, images), Contains("magic number 0x00000803"));
}

#if defined(LACONIC_WITH_ZLIB) && LACONIC_WITH_ZLIB
TEST_CASE("gzip-compressed IDX files", "[data][idx]") {
  const auto path = laconic::test::write_temp("idx_labels.gz", "");
  const std::string bytes = idx_labels({4, 1, 4});
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
  CHECK(read_idx_labels(path) == laconic::Vector{{4.0, 1.0, 4.0}});
}
#endif

TEST_CASE("MNIST test set", "[data][idx][real]") {
  const auto images = laconic::test::data_file("mnist/t10k-images-idx3-ubyte.gz");
  const auto labels = laconic::test::data_file("mnist/t10k-labels-idx1-ubyte.gz");
  if (!images || !labels) return;
  if (!laconic::data::has_gzip_support) {
    WARN("SKIPPED: the MNIST files are gzip-compressed and laconic was built without zlib");
    return;
  }
  const Dataset data = read_mnist(*images, *labels);
  CHECK(data.rows() == 10000);
  CHECK(data.cols() == 784);
  CHECK(data.num_classes() == 10);
  for (int c = 0; c < 10; ++c) CHECK((data.labels().array() == c).count() > 800);
  CHECK(data.labels()[0] == 7);  // the first test image is a seven
  const auto x = dense_of(data);
  CHECK(x.minCoeff() == 0.0);
  CHECK(x.maxCoeff() == 1.0);
  CHECK(x == read_idx_images(*images));
  // MNIST is mostly background, so CSR is the smaller form.
  CHECK(data.is_sparse());
}
