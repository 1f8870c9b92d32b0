#pragma once

// IDX files (LeCun's MNIST format, also used by Fashion-MNIST): a big-endian header
//   0x00 0x00 <type> <number of dimensions>, then one 32-bit size per dimension,
// followed by the items. Only unsigned bytes (type 0x08) are read: images (magic 0x00000803,
// dimensions count x rows x columns) and labels (magic 0x00000801, dimension count).
// Files may be gzip-compressed (see read_file).

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/io.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laconic::data {

namespace detail {

// The validated header of an unsigned-byte IDX file and a view of its items.
struct IdxContent {
  std::vector<std::uint32_t> dims;
  std::string_view items;
};

inline std::uint32_t big_endian_u32(std::string_view bytes, std::size_t offset) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
         std::uint32_t{b[3]};
}

inline IdxContent parse_idx(std::string_view bytes, const std::string& file,
                            std::uint32_t expected_magic, std::string_view what) {
  const auto size = static_cast<std::int64_t>(bytes.size());
  if (bytes.size() < 4) {
    throw ParseError::at_byte(
        file, size,
        fmt::format("expected a 4-byte IDX magic number, the file has only {} bytes",
                    bytes.size()));
  }
  const std::uint32_t magic = big_endian_u32(bytes, 0);
  if (magic != expected_magic) {
    std::string hint;
    if (magic == 0x00000801) hint = " (an IDX labels file)";
    if (magic == 0x00000803) hint = " (an IDX images file)";
    if ((magic >> 16) != 0) hint = " (not an IDX file)";
    throw ParseError::at_byte(file, 0,
                              fmt::format("expected magic number 0x{:08x} ({}), found 0x{:08x}{}",
                                          expected_magic, what, magic, hint));
  }
  const std::size_t ndims = magic & 0xff;
  const std::size_t header = 4 + 4 * ndims;
  if (bytes.size() < header) {
    throw ParseError::at_byte(
        file, size,
        fmt::format("expected a {}-byte header ({} dimensions), the file has only "
                    "{} bytes: truncated header",
                    header, ndims, bytes.size()));
  }
  IdxContent content;
  std::uint64_t count = 1;
  bool overflow = false;
  for (std::size_t d = 0; d < ndims; ++d) {
    const std::uint32_t n = big_endian_u32(bytes, 4 + 4 * d);
    content.dims.push_back(n);
    if (n != 0 && count > std::numeric_limits<std::uint64_t>::max() / n) overflow = true;
    count *= n;
  }
  const std::size_t available = bytes.size() - header;
  if (overflow || count > available) {
    throw ParseError::at_byte(
        file, size,
        fmt::format(
            "expected {} bytes of data after the header ({}), the file has only {}: truncated data",
            overflow ? std::string("more than 2^64") : fmt::format("{}", count),
            fmt::join(content.dims, " x "), available));
  }
  if (count < available) {
    throw ParseError::at_byte(
        file, static_cast<std::int64_t>(header + count),
        fmt::format(
            "expected the end of the file after {} bytes of data ({}), found {} trailing bytes",
            count, fmt::join(content.dims, " x "), available - count));
  }
  content.items = bytes.substr(header);
  return content;
}

inline IdxContent parse_idx_images(std::string_view bytes, const std::string& file) {
  auto content = parse_idx(bytes, file, 0x00000803, "IDX unsigned-byte images");
  if (content.dims[0] == 0 || content.dims[1] == 0 || content.dims[2] == 0) {
    throw ParseError::at_byte(
        file, 4,
        fmt::format("expected at least one image of at least one pixel, found {}",
                    fmt::join(content.dims, " x ")));
  }
  return content;
}

inline IdxContent parse_idx_labels(std::string_view bytes, const std::string& file) {
  auto content = parse_idx(bytes, file, 0x00000801, "IDX unsigned-byte labels");
  if (content.dims[0] == 0)
    throw ParseError::at_byte(file, 4, "expected at least one label, found 0");
  return content;
}

inline Index as_index(std::uint32_t n) {
  return static_cast<Index>(n);
}

}  // namespace detail

// The images of an IDX file, one per row (pixels in row-major order), scaled from 0..255 to
// [0, 1].
inline DenseMatrix read_idx_images(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const auto content = detail::parse_idx_images(bytes, path.string());
  const Index rows = detail::as_index(content.dims[0]);
  const Index cols = detail::as_index(content.dims[1]) * detail::as_index(content.dims[2]);
  DenseMatrix images(rows, cols);
  const auto* pixel = reinterpret_cast<const unsigned char*>(content.items.data());
  Scalar* out = images.data();
  for (std::size_t i = 0; i < content.items.size(); ++i) out[i] = pixel[i] / 255.0;
  return images;
}

// The labels of an IDX file, as numbers 0..255.
inline Vector read_idx_labels(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const auto content = detail::parse_idx_labels(bytes, path.string());
  Vector labels(detail::as_index(content.dims[0]));
  const auto* label = reinterpret_cast<const unsigned char*>(content.items.data());
  for (Index i = 0; i < labels.size(); ++i) labels[i] = label[i];
  return labels;
}

// MNIST-style images and labels as a multiclass Dataset with max(10, largest label + 1)
// classes; pixels scaled to [0, 1]. Stored as CSR when that is smaller than dense storage (it
// is for MNIST, whose images are mostly background).
inline Dataset read_mnist(const std::filesystem::path& images_path,
                          const std::filesystem::path& labels_path) {
  const std::string image_bytes = read_file(images_path);
  const auto images = detail::parse_idx_images(image_bytes, images_path.string());
  const std::string label_bytes = read_file(labels_path);
  const auto label_content = detail::parse_idx_labels(label_bytes, labels_path.string());
  if (label_content.dims[0] != images.dims[0]) {
    throw ParseError::at_byte(
        labels_path.string(), 4,
        fmt::format("expected {} labels, one for each image in {}, found {}", images.dims[0],
                    images_path.string(), label_content.dims[0]));
  }

  const Index rows = detail::as_index(images.dims[0]);
  const Index cols = detail::as_index(images.dims[1]) * detail::as_index(images.dims[2]);
  Vector labels(rows);
  const auto* label = reinterpret_cast<const unsigned char*>(label_content.items.data());
  int largest = 0;
  for (Index i = 0; i < rows; ++i) {
    labels[i] = label[i];
    largest = std::max<int>(largest, label[i]);
  }
  const int num_classes = std::max(10, largest + 1);

  const auto* pixel = reinterpret_cast<const unsigned char*>(images.items.data());
  const auto total = images.items.size();
  const auto nnz = static_cast<Index>(
      total - static_cast<std::size_t>(std::count(images.items.begin(), images.items.end(), 0)));
  if (Dataset::dense_is_smaller(rows, cols, nnz) ||
      nnz > std::numeric_limits<std::int32_t>::max()) {
    DenseMatrix features(rows, cols);
    for (std::size_t i = 0; i < total; ++i) features.data()[i] = pixel[i] / 255.0;
    return Dataset(std::move(features), std::move(labels), Task::multiclass, num_classes);
  }
  SparseMatrix features(rows, cols);
  features.resizeNonZeros(nnz);
  std::int32_t* outer = features.outerIndexPtr();
  std::int32_t* inner = features.innerIndexPtr();
  Scalar* values = features.valuePtr();
  std::int32_t k = 0;
  outer[0] = 0;
  for (Index i = 0; i < rows; ++i) {
    const unsigned char* row = pixel + i * cols;
    for (Index j = 0; j < cols; ++j) {
      if (row[j] != 0) {
        inner[k] = static_cast<std::int32_t>(j);
        values[k++] = row[j] / 255.0;
      }
    }
    outer[i + 1] = k;
  }
  return Dataset(std::move(features), std::move(labels), Task::multiclass, num_classes);
}

}  // namespace laconic::data
