#pragma once

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cstdint>

namespace laconic {

using Scalar = double;
using Index = Eigen::Index;
using Vector = Eigen::VectorXd;
// Row-major so that a worker's shard (a block of rows) is contiguous in memory.
using DenseMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using SparseMatrix = Eigen::SparseMatrix<Scalar, Eigen::RowMajor, std::int32_t>;

}  // namespace laconic
