#pragma once

// Small random datasets and finite differences for the objective tests. All randomness
// comes from laconic's own streams (Purpose::user), so every run sees the same numbers.

#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

namespace laconic::test {

enum class Storage { sparse, dense };

inline const char* storage_name(Storage s) {
  return s == Storage::sparse ? "sparse" : "dense";
}

// A rows×cols matrix whose entries are nonzero with probability `density`, each then
// normal × scale; returned densely (the sparse variant is built from it).
inline DenseMatrix random_matrix(Index rows, Index cols, double density, std::uint64_t seed,
                                 double scale = 1.0) {
  RandomStream rng(seed, Purpose::user, 0, 0);
  DenseMatrix a = DenseMatrix::Zero(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      if (rng.uniform() < density) a(i, j) = scale * rng.normal();
    }
  }
  return a;
}

inline Vector random_vector(Index size, std::uint64_t seed, double scale = 1.0) {
  RandomStream rng(seed, Purpose::user, 0, 1);
  Vector v(size);
  for (Index j = 0; j < size; ++j) v[j] = scale * rng.normal();
  return v;
}

// Labels for a task: ±1 (binary), 0..classes−1 (multiclass) or normal (regression).
inline Vector random_labels(Index rows, data::Task task, int classes, std::uint64_t seed) {
  RandomStream rng(seed, Purpose::user, 0, 2);
  Vector b(rows);
  for (Index i = 0; i < rows; ++i) {
    switch (task) {
      case data::Task::binary:
        b[i] = rng.uniform() < 0.5 ? -1.0 : 1.0;
        break;
      case data::Task::multiclass:
        b[i] = static_cast<double>(rng.below(static_cast<std::uint64_t>(classes)));
        break;
      case data::Task::regression:
        b[i] = rng.normal();
        break;
    }
  }
  return b;
}

// The dataset of `features` and `labels`, stored as asked.
inline std::shared_ptr<const data::Dataset> make_dataset(Storage storage,
                                                         const DenseMatrix& features, Vector labels,
                                                         data::Task task, int classes = 0) {
  if (storage == Storage::dense) {
    return std::make_shared<const data::Dataset>(features, std::move(labels), task, classes);
  }
  SparseMatrix sparse = features.sparseView();
  sparse.makeCompressed();
  return std::make_shared<const data::Dataset>(std::move(sparse), std::move(labels), task, classes);
}

// A random dataset: 30% nonzero features when sparse, all nonzero when dense.
inline std::shared_ptr<const data::Dataset> random_dataset(Storage storage, data::Task task,
                                                           Index rows, Index cols,
                                                           std::uint64_t seed, int classes = 0,
                                                           double scale = 1.0) {
  const double density = storage == Storage::sparse ? 0.3 : 1.0;
  return make_dataset(storage, random_matrix(rows, cols, density, seed, scale),
                      random_labels(rows, task, classes, seed), task, classes);
}

// The shard's rows as a dense matrix.
inline Eigen::MatrixXd dense_rows(const data::Shard& shard) {
  const Index n = shard.size();
  return shard.data->visit(
      [&](const auto& a) -> Eigen::MatrixXd { return a.middleRows(shard.begin, n); });
}

// λ_max(AᵀA)/n of the shard by a dense eigensolver, and the matching unit eigenvector.
struct TopEigen {
  double value;
  Vector vector;
};
inline TopEigen top_eigen_gram(const data::Shard& shard) {
  const Eigen::MatrixXd a = dense_rows(shard);
  const Eigen::MatrixXd gram = a.transpose() * a / static_cast<double>(shard.size());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(gram);
  const Index last = gram.rows() - 1;
  return {solver.eigenvalues()[last], solver.eigenvectors().col(last)};
}

// Central differences (f(x + h e_j) − f(x − h e_j)) / 2h with h scaled to |x_j|.
template <class F>
Vector numerical_gradient(F&& f, const Vector& x, double step = 1e-5) {
  Vector g(x.size());
  Vector y = x;
  for (Index j = 0; j < x.size(); ++j) {
    const double h = step * std::max(1.0, std::abs(x[j]));
    y[j] = x[j] + h;
    const double up = f(y);
    y[j] = x[j] - h;
    const double down = f(y);
    y[j] = x[j];
    g[j] = (up - down) / (2 * h);
  }
  return g;
}

// ‖a − b‖ / ‖b‖ (‖a − b‖ when b = 0).
inline double relative_error(const Vector& a, const Vector& b) {
  const double scale = b.norm();
  return scale > 0 ? (a - b).norm() / scale : (a - b).norm();
}

// 0, 1, …, n−1.
inline std::vector<Index> all_indices(Index n) {
  std::vector<Index> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), Index{0});
  return v;
}

}  // namespace laconic::test
