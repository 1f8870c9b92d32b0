#pragma once

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cmath>
#include <cstdint>

namespace laconic {

using Scalar = double;
using Index = Eigen::Index;
using Vector = Eigen::VectorXd;
// Row-major so that a worker's shard (a block of rows) is contiguous in memory.
using DenseMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using SparseMatrix = Eigen::SparseMatrix<Scalar, Eigen::RowMajor, std::int32_t>;

// Whether every entry of v is finite. A NaN or an infinity makes the sum non-finite, so a
// finite sum proves it in one vectorized pass (Eigen's allFinite() is a scalar loop); only a
// sum that overflows, or a vector that is not finite, takes the exact entry-by-entry check.
inline bool all_finite(const Vector& v) {
  return std::isfinite(v.sum()) || v.allFinite();
}

}  // namespace laconic
