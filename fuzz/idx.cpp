// Fuzzes the IDX readers through their public, path-based entry points (so that read_file's
// gunzip is on the way). Input: one control byte choosing images, labels or both (MNIST),
// then the file; for both, two more bytes give the length of the images file, and the
// labels file is what follows it. Files are written to this process's /dev/shm directory.

#include <laconic/data/idx.hpp>

#include "common.hpp"

#include <cstdint>

using namespace laconic;

namespace {

bool in_unit_interval(const double* values, Index n) {
  for (Index i = 0; i < n; ++i) {
    if (!(values[i] >= 0 && values[i] <= 1)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Bytes in(data, size);
  static const auto images_path = fuzz::scratch_file("images.idx");
  static const auto labels_path = fuzz::scratch_file("labels.idx");
  const int mode = in.u8() % 3;
  try {
    if (mode == 0) {
      fuzz::write_bytes(images_path, in.rest());
      const DenseMatrix images = data::read_idx_images(images_path);
      if (images.size() == 0 || !in_unit_interval(images.data(), images.size())) {
        fuzz::violated("images empty or outside [0, 1]");
      }
    } else if (mode == 1) {
      fuzz::write_bytes(labels_path, in.rest());
      const Vector labels = data::read_idx_labels(labels_path);
      if (labels.size() == 0 || labels.minCoeff() < 0 || labels.maxCoeff() > 255) {
        fuzz::violated("labels empty or outside 0..255");
      }
    } else {
      const std::size_t split = in.u16();
      fuzz::write_bytes(images_path, in.take(split));
      fuzz::write_bytes(labels_path, in.rest());
      const data::Dataset set = data::read_mnist(images_path, labels_path);
      const Vector& labels = set.labels();
      if (set.rows() < 1 || labels.size() != set.rows() || set.num_classes() < 10 ||
          labels.minCoeff() < 0 || labels.maxCoeff() >= set.num_classes()) {
        fuzz::violated("an MNIST dataset with bad rows or labels");
      }
    }
  } catch (const ParseError&) {
  }
  return 0;
}
