#pragma once

// Finding and shaping the real datasets the reproductions use, with a synthetic stand-in
// whenever a file is absent, so that every example runs on a fresh machine.

#include <laconic/data/dataset.hpp>
#include <laconic/data/idx.hpp>
#include <laconic/data/libsvm.hpp>
#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#ifndef LACONIC_EXAMPLES_DATA_DIR
#define LACONIC_EXAMPLES_DATA_DIR "../shared/data"
#endif

namespace laconic::examples {

// Where the real datasets are: the --data-dir flag when given, else $LACONIC_DATA_DIR, else
// ../shared/data beside the source tree (fixed when the examples are compiled).
inline std::filesystem::path data_dir(const std::filesystem::path& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("LACONIC_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return LACONIC_EXAMPLES_DATA_DIR;
}

// A dataset and where it came from.
struct Loaded {
  std::shared_ptr<const data::Dataset> data;
  std::string source;  // the file read, or what the synthetic data stands in for
  bool synthetic = false;
};

// Reads the dataset with `read` when every one of `files` exists; otherwise says which is
// missing and returns `stand_in()` instead.
inline Loaded load_or_stand_in(std::string_view name,
                               const std::vector<std::filesystem::path>& files,
                               const std::function<data::Dataset()>& read,
                               const std::function<data::Dataset()>& stand_in) {
  for (const auto& file : files) {
    if (!std::filesystem::exists(file)) {
      auto data = std::make_shared<const data::Dataset>(stand_in());
      fmt::print(
          "{}: {} not found (set --data-dir or LACONIC_DATA_DIR); using synthetic data of "
          "the same shape instead ({} x {})\n",
          name, file.string(), data->rows(), data->cols());
      return {std::move(data), fmt::format("synthetic stand-in for {}", name), true};
    }
  }
  return {std::make_shared<const data::Dataset>(read()), files.front().string(), false};
}

// Synthetic binary logistic data of a given shape, for a missing LIBSVM file: features
// N(0, scale²), labels drawn from a logistic model (data/synthetic.hpp).
inline data::Dataset synthetic_binary(Index samples, Index features, double scale = 1.0) {
  const auto made = data::make_logistic({.samples = samples, .features = features, .seed = 11});
  DenseMatrix a = made.data->dense() * scale;
  return data::Dataset(std::move(a), made.data->labels(), data::Task::binary);
}

// The same for a multiclass set such as MNIST.
inline data::Dataset synthetic_multiclass(Index samples, Index features, Index classes,
                                          double scale = 1.0) {
  const auto made = data::make_multiclass_logistic(
      {.samples = samples, .features = features, .classes = classes, .seed = 11});
  DenseMatrix a = made.data->dense() * scale;
  return data::Dataset(std::move(a), made.data->labels(), data::Task::multiclass,
                       made.data->num_classes());
}

}  // namespace laconic::examples
