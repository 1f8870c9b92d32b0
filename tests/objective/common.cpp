#include <laconic/objective/common.hpp>
#include <laconic/objective/least_squares.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/objective/softmax.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>

#include "objective/fixtures.hpp"
#include "support.hpp"

using namespace laconic;
using namespace laconic::objective;
using laconic::test::Storage;

TEST_CASE("softplus is log(1 + e^z) without overflow", "[objective][common]") {
  CHECK(softplus(0) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(softplus(1.5) == Approx(std::log1p(std::exp(1.5))).epsilon(1e-15));
  CHECK(softplus(-1.5) == Approx(std::log1p(std::exp(-1.5))).epsilon(1e-15));
  CHECK(softplus(1000) == 1000);
  CHECK(softplus(1e300) == 1e300);
  // The tail keeps its value rather than rounding to zero early.
  CHECK(softplus(-50) == Approx(std::exp(-50.0)).epsilon(1e-12));
  CHECK(softplus(-1000) >= 0);
  CHECK(softplus(-1000) < 1e-300);
  // softplus(z) − softplus(−z) = z.
  for (double z : {-30.0, -2.5, -1e-3, 0.0, 0.7, 12.0}) {
    CHECK(softplus(z) - softplus(-z) == Approx(z).margin(1e-14));
  }
}

TEST_CASE("sigmoid is stable and symmetric", "[objective][common]") {
  CHECK(sigmoid(0) == 0.5);
  CHECK(sigmoid(1000) == 1.0);
  CHECK(sigmoid(-1000) == 0.0);
  CHECK(sigmoid(-40) == Approx(std::exp(-40.0)).epsilon(1e-12));
  for (double z : {-30.0, -2.5, -1e-3, 0.7, 12.0}) {
    CHECK(sigmoid(z) + sigmoid(-z) == Approx(1.0).epsilon(1e-15));
    CHECK(sigmoid(z) == Approx(1.0 / (1.0 + std::exp(-z))).epsilon(1e-14));
    // σ is the derivative of softplus.
    const double h = 1e-6;
    CHECK(sigmoid(z) == Approx((softplus(z + h) - softplus(z - h)) / (2 * h)).margin(1e-9));
  }
}

TEST_CASE("log_sum_exp is stable", "[objective][common]") {
  Vector v(3);
  v << 1, 2, 3;
  CHECK(log_sum_exp(v) ==
        Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))).epsilon(1e-15));
  v << 1000, 1000, -1000;
  CHECK(log_sum_exp(v) == Approx(1000 + std::log(2.0)).epsilon(1e-15));
  v << -1000, -1000, -1000;
  CHECK(log_sum_exp(v) == Approx(-1000 + std::log(3.0)).epsilon(1e-15));
  // Works on expressions and rows, too.
  DenseMatrix m(2, 2);
  m << 0, 0, 5, 5;
  CHECK(log_sum_exp(m.row(0)) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(log_sum_exp(m.row(1) * 2) == Approx(10 + std::log(2.0)).epsilon(1e-15));
  CHECK(log_sum_exp(Vector()) == -std::numeric_limits<double>::infinity());
  v << 1, std::numeric_limits<double>::infinity(), 0;
  CHECK(log_sum_exp(v) == std::numeric_limits<double>::infinity());
}

TEST_CASE("regularizer values and gradients", "[objective][common]") {
  Vector x(3);
  x << 1, -2, 0.5;
  const double lambda = 0.3;
  CHECK(regularizer_value(Regularizer::l2, lambda, x) == Approx(0.15 * 5.25).epsilon(1e-15));
  CHECK(regularizer_value(Regularizer::nonconvex, lambda, x) ==
        Approx(lambda * (0.5 + 0.8 + 0.2)).epsilon(1e-15));
  CHECK(regularizer_value(Regularizer::nonconvex, 0, x) == 0);
  CHECK(to_string(Regularizer::l2) == "l2");
  CHECK(to_string(Regularizer::nonconvex) == "nonconvex");

  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  const Vector y = test::random_vector(6, 11, 1.5);
  Vector g = Vector::Constant(6, 2.0);  // the helper adds to what is there
  add_regularizer_gradient(r, lambda, y, g);
  const Vector numerical =
      test::numerical_gradient([&](const Vector& z) { return regularizer_value(r, lambda, z); }, y);
  CHECK(test::relative_error(g.array() - 2.0, numerical) < 1e-8);

  Vector unchanged = Vector::Constant(6, 2.0);
  add_regularizer_gradient(r, 0, y, unchanged);
  CHECK(unchanged == Vector::Constant(6, 2.0));
}

TEST_CASE("regularizer_smoothness bounds the second derivative", "[objective][common]") {
  const double lambda = 0.7;
  CHECK(regularizer_smoothness(Regularizer::l2, lambda) == lambda);
  CHECK(regularizer_smoothness(Regularizer::nonconvex, lambda) == 2 * lambda);
  // r_j'' of the nonconvex regularizer on a grid, by differences of its gradient: within
  // [−λ/2, 2λ], and 2λ at θ_j = 0.
  double largest = 0;
  double smallest = 0;
  for (double t = -6; t <= 6; t += 0.01) {
    const double h = 1e-6;
    Vector up = Vector::Zero(1), down = Vector::Zero(1);
    add_regularizer_gradient(Regularizer::nonconvex, lambda, Vector::Constant(1, t + h), up);
    add_regularizer_gradient(Regularizer::nonconvex, lambda, Vector::Constant(1, t - h), down);
    const double second = (up[0] - down[0]) / (2 * h);
    largest = std::max(largest, second);
    smallest = std::min(smallest, second);
  }
  CHECK(largest <= 2 * lambda * (1 + 1e-8));
  CHECK(largest == Approx(2 * lambda).epsilon(1e-6));
  CHECK(smallest == Approx(-lambda / 2).epsilon(1e-4));
}

TEST_CASE("max_eigenvalue_gram matches a dense eigensolver", "[objective][common]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto seed = GENERATE(1u, 2u, 3u);
  INFO(test::storage_name(storage) << " seed " << seed);
  const auto dataset =
      test::random_dataset(storage, data::Task::regression, 60, 9, seed, 0, /*scale=*/3.0);
  for (const data::Shard& shard :
       {data::whole(dataset), data::Shard{dataset, 7, 41}, data::Shard{dataset, 59, 60}}) {
    const double expected = test::top_eigen_gram(shard).value;
    const double power = max_eigenvalue_gram(shard);
    CHECK(std::abs(power - expected) <= 1e-8 * expected);
  }
}

// Few rows and many features, or many rows and few features: solved exactly through the
// smaller of AAᵀ and AᵀA, where the power iteration on nearly equal eigenvalues was slow
// (7 s for 100 shards of 20 × 10⁴; 40 s for an example's grid of runs on ten shards of
// 5000 × 22) and short of its tolerance.
TEST_CASE("max_eigenvalue_gram of a tall shard matches a dense eigensolver",
          "[objective][common]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto dataset =
      test::random_dataset(storage, data::Task::regression, 3000, 22, 6, 0, /*scale=*/2.0);
  for (const data::Shard& shard : {data::whole(dataset), data::Shard{dataset, 100, 2600}}) {
    INFO(test::storage_name(storage) << " rows " << shard.begin << ".." << shard.end);
    const double expected = test::top_eigen_gram(shard).value;
    CHECK(max_eigenvalue_gram(shard) == Approx(expected).epsilon(1e-12));
  }
}

// Neither few rows nor few columns: the power iteration.
TEST_CASE("max_eigenvalue_gram by power iteration matches a dense eigensolver",
          "[objective][common]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto dataset =
      test::random_dataset(storage, data::Task::regression, 400, 270, 7, 0, /*scale=*/2.0);
  const double expected = test::top_eigen_gram(data::whole(dataset)).value;
  CHECK(std::abs(max_eigenvalue_gram(data::whole(dataset)) - expected) <= 1e-8 * expected);
}

TEST_CASE("max_eigenvalue_gram of a wide shard matches a dense eigensolver",
          "[objective][common]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto dataset =
      test::random_dataset(storage, data::Task::regression, 40, 300, 4, 0, /*scale=*/2.0);
  for (const data::Shard& shard : {data::Shard{dataset, 0, 20}, data::Shard{dataset, 5, 6}}) {
    INFO(test::storage_name(storage) << " rows " << shard.begin << ".." << shard.end);
    const double expected = test::top_eigen_gram(shard).value;
    CHECK(max_eigenvalue_gram(shard) == Approx(expected).epsilon(1e-12));
  }
}

// The exact branch goes through the tridiagonal form itself (cheaper to compile); it must give
// SelfAdjointEigenSolver's eigenvalue to the bit, so that no smoothness constant, and no step
// 1/L built from one, moved.
TEST_CASE("the exact branch's eigenvalue equals SelfAdjointEigenSolver's bit for bit",
          "[objective][common]") {
  for (const Index size : {1, 2, 3, 7, 22, 64, 150}) {
    for (const std::uint64_t seed : {1u, 2u}) {
      INFO("size " << size << " seed " << seed);
      const DenseMatrix a = test::random_matrix(size, size + 5, 0.5, seed, 3.0);
      Eigen::MatrixXd gram = a * a.transpose();
      if (size > 1) gram.row(1) = gram.row(0), gram.col(1) = gram.col(0);  // a repeated row
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(gram, Eigen::EigenvaluesOnly);
      CHECK(objective::detail::max_eigenvalue(gram) == solver.eigenvalues().maxCoeff());
    }
  }
  CHECK(objective::detail::max_eigenvalue(Eigen::MatrixXd::Zero(4, 4)) == 0);
}

TEST_CASE("max_eigenvalue_gram is the same for sparse and dense storage", "[objective][common]") {
  const DenseMatrix a = test::random_matrix(50, 12, 0.4, 5);
  const Vector labels = Vector::Zero(50);
  const auto dense = test::make_dataset(Storage::dense, a, labels, data::Task::regression);
  const auto sparse = test::make_dataset(Storage::sparse, a, labels, data::Task::regression);
  CHECK(max_eigenvalue_gram({dense, 10, 40}) ==
        Approx(max_eigenvalue_gram({sparse, 10, 40})).epsilon(1e-12));
}

TEST_CASE("max_eigenvalue_gram handles degenerate shards", "[objective][common]") {
  // Rows (t, −t): the top eigenvector (1, −1) is orthogonal to the all-ones vector.
  DenseMatrix a(3, 2);
  a << 1, -1, 2, -2, -3, 3;
  const auto antisymmetric =
      test::make_dataset(Storage::dense, a, Vector::Zero(3), data::Task::regression);
  // AᵀA = 14·[[1, −1], [−1, 1]], λ_max = 28, over n = 3.
  CHECK(max_eigenvalue_gram(data::whole(antisymmetric)) == Approx(28.0 / 3).epsilon(1e-10));

  const auto zeros = test::make_dataset(Storage::sparse, DenseMatrix::Zero(4, 3), Vector::Zero(4),
                                        data::Task::regression);
  CHECK(max_eigenvalue_gram(data::whole(zeros)) == 0);
  CHECK(max_eigenvalue_gram({zeros, 2, 2}) == 0);  // empty shard

  // One row: λ_max(aaᵀ) = ‖a‖², converged after a single step.
  DenseMatrix one(1, 4);
  one << 1, 2, 3, 4;
  const auto single =
      test::make_dataset(Storage::dense, one, Vector::Zero(1), data::Task::regression);
  CHECK(max_eigenvalue_gram(data::whole(single)) == Approx(30.0).epsilon(1e-12));
}

TEST_CASE("max_eigenvalue_gram validates its arguments", "[objective][common]") {
  const auto dataset = test::random_dataset(Storage::dense, data::Task::regression, 5, 2, 1);
  CHECK_THROWS_AS(max_eigenvalue_gram(data::Shard{}), std::invalid_argument);
  CHECK_THROWS_WITH(max_eigenvalue_gram({dataset, 3, 9}), Catch::Contains("shard"));
  CHECK_THROWS_AS(max_eigenvalue_gram({dataset, 4, 2}), std::invalid_argument);
  CHECK_THROWS_WITH(max_eigenvalue_gram(data::whole(dataset), {.tolerance = 0}),
                    Catch::Contains("tolerance"));
  CHECK_THROWS_WITH(max_eigenvalue_gram(data::whole(dataset), {.max_iterations = 0}),
                    Catch::Contains("max_iterations"));
  // A single iteration still returns a lower bound.
  const double one_step = max_eigenvalue_gram(data::whole(dataset), {.max_iterations = 1});
  CHECK(one_step > 0);
  CHECK(one_step <= test::top_eigen_gram(data::whole(dataset)).value * (1 + 1e-12));
}

TEST_CASE("PowerIteration: invalid parameters name themselves, their value and the allowed range",
          "[objective][common]") {
  using Catch::Contains;
  const auto dataset = test::random_dataset(Storage::dense, data::Task::regression, 5, 2, 1);
  const auto refused = [&](PowerIteration settings) {
    return test::refusal([&] { max_eigenvalue_gram(data::whole(dataset), settings); });
  };
  CHECK_THAT(refused({.tolerance = 0}), Contains("tolerance = 0: must be positive and finite"));
  CHECK_THAT(refused({.tolerance = std::nan("")}), Contains("tolerance = nan: must be positive"));
  CHECK_THAT(refused({.max_iterations = 0}), Contains("max_iterations = 0: must be >= 1"));
  CHECK(refused({.tolerance = 5e-324, .max_iterations = 1}) == "accepted");
}

TEST_CASE("full gradients of a shard larger than a cache block go block by block, to the same sums",
          "[objective][common]") {
  // 2000 rows × 100 features: 1.6 MB dense, about 0.7 MB sparse (30 % nonzero), so several
  // blocks of detail::cache_block_bytes either way; the shard starts at row 3.
  for (const Storage storage : {Storage::dense, Storage::sparse}) {
    INFO(test::storage_name(storage));
    const auto binary = test::random_dataset(storage, data::Task::binary, 2003, 100, 41);
    const data::Shard shard{binary, 3, 2003};
    // The blocks cover the shard's rows in order, each row once.
    Index next = 0, blocks = 0;
    detail::for_each_block(shard, [&](const auto& block, Index first) {
      CHECK(first == next);
      next += block.rows();
      ++blocks;
    });
    CHECK(next == shard.size());
    CHECK(blocks > 1);

    // Each objective's full gradient and loss against its minibatch path over every row.
    const auto check = [&](auto objective) {
      const Vector x = test::random_vector(objective.dim(), 5, 0.1);
      Vector full, rows;
      const double loss = objective.full_gradient(x, full);
      const double by_rows = objective.gradient(x, test::all_indices(objective.size()), rows);
      CHECK(loss == Approx(by_rows).epsilon(1e-12));
      CHECK(test::relative_error(full, rows) <= 1e-12);
    };
    check(Logistic(shard, {.lambda = 0.01}));
    check(LeastSquares(
        data::Shard{test::random_dataset(storage, data::Task::regression, 2003, 100, 42), 3, 2003},
        {.lambda = 0.01}));
    check(
        Softmax(data::Shard{test::random_dataset(storage, data::Task::multiclass, 2003, 100, 43, 4),
                            3, 2003},
                {.lambda = 0.01}));
  }
}
