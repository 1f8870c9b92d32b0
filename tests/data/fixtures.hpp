#pragma once

// Views of a Dataset that tests compare against, whatever its storage.

#include <laconic/data/dataset.hpp>

#include <vector>

namespace laconic::test {

inline DenseMatrix dense_of(const data::Dataset& data) {
  return data.visit([](const auto& a) { return DenseMatrix(a); });
}

inline std::vector<double> labels_of(const data::Dataset& data) {
  return {data.labels().data(), data.labels().data() + data.rows()};
}

}  // namespace laconic::test
