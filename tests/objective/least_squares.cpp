#include <laconic/core/concepts.hpp>
#include <laconic/objective/least_squares.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "objective/fixtures.hpp"
#include "support.hpp"

using namespace laconic;
using objective::LeastSquares;
using test::Storage;

static_assert(Objective<LeastSquares>);
static_assert(HasFullGradient<LeastSquares>);
static_assert(HasSmoothness<LeastSquares>);
static_assert(!HasAccuracy<LeastSquares>);

namespace {

// A worker on rows [3, 28) of a random 32×6 regression dataset.
LeastSquares make_worker(Storage storage, double lambda = 0.1, std::uint64_t seed = 5) {
  const auto dataset = test::random_dataset(storage, data::Task::regression, 32, 6, seed);
  return LeastSquares(data::Shard{dataset, 3, 28}, {.lambda = lambda});
}

}  // namespace

TEST_CASE("LeastSquares gradients match central finite differences", "[objective][least_squares]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const double lambda = GENERATE(0.0, 0.3);
  LeastSquares worker = make_worker(storage, lambda);
  const Vector x = test::random_vector(worker.dim(), 8);

  Vector g;
  CHECK(worker.full_gradient(x, g) == Approx(worker.loss(x)).epsilon(1e-14));
  const Vector numerical =
      test::numerical_gradient([&](const Vector& y) { return worker.loss(y); }, x);
  CHECK(test::relative_error(g, numerical) < 1e-6);

  const std::vector<Index> batch = {0, 24, 24, 9};
  Vector scratch;
  worker.gradient(x, batch, g);
  const Vector numerical_batch = test::numerical_gradient(
      [&](const Vector& y) { return worker.gradient(y, batch, scratch); }, x);
  CHECK(test::relative_error(g, numerical_batch) < 1e-6);

  // The loss itself, by its formula.
  const Eigen::MatrixXd a = test::dense_rows(worker.shard());
  const Vector r = a * x - worker.shard().labels();
  CHECK(worker.loss(x) ==
        Approx(r.squaredNorm() / (2.0 * worker.size()) + 0.5 * lambda * x.squaredNorm())
            .epsilon(1e-13));
}

TEST_CASE("LeastSquares minibatch gradient is the mean of single-sample gradients",
          "[objective][least_squares]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  LeastSquares worker = make_worker(storage);
  const Vector x = test::random_vector(worker.dim(), 3);
  const std::vector<Index> batch = {7, 1, 1, 20, 24};

  Vector mean = Vector::Zero(worker.dim());
  double mean_loss = 0;
  Vector single;
  for (const Index i : batch) {
    mean_loss += worker.gradient(x, std::span<const Index>(&i, 1), single);
    mean += single;
  }
  mean /= static_cast<double>(batch.size());
  mean_loss /= static_cast<double>(batch.size());

  Vector g;
  CHECK(worker.gradient(x, batch, g) == Approx(mean_loss).epsilon(1e-13));
  CHECK(test::relative_error(g, mean) < 1e-13);
}

TEST_CASE("LeastSquares full_gradient equals gradient over the whole shard",
          "[objective][least_squares]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  LeastSquares worker = make_worker(storage);
  const auto all = test::all_indices(worker.size());
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Vector x = test::random_vector(worker.dim(), seed);
    Vector full, batched;
    const double full_loss = worker.full_gradient(x, full);
    CHECK(full_loss == Approx(worker.gradient(x, all, batched)).epsilon(1e-13));
    CHECK(test::relative_error(full, batched) < 1e-13);
    Vector again;
    CHECK(worker.full_gradient(x, again) == full_loss);
    CHECK(again == full);
  }
}

TEST_CASE("LeastSquares smoothness is the largest Hessian eigenvalue",
          "[objective][least_squares]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const double lambda = 0.25;
  LeastSquares worker = make_worker(storage, lambda);
  const auto top = test::top_eigen_gram(worker.shard());
  const double smoothness = worker.smoothness();
  CHECK(smoothness == Approx(top.value + lambda).epsilon(1e-8));

  Vector gx, gy;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const Vector x = test::random_vector(worker.dim(), 500 + seed, 2.0);
    const Vector y = x + test::random_vector(worker.dim(), 600 + seed);
    worker.full_gradient(x, gx);
    worker.full_gradient(y, gy);
    CHECK((gx - gy).norm() <= smoothness * (x - y).norm() * (1 + 1e-12));
  }
  // The Hessian is constant: the bound is attained along the top eigenvector anywhere.
  const Vector x = test::random_vector(worker.dim(), 9);
  worker.full_gradient(x, gx);
  worker.full_gradient(x + top.vector, gy);
  CHECK((gy - gx).norm() == Approx(smoothness).epsilon(1e-8));
}

TEST_CASE("least_squares_minimizer solves the workers' average problem",
          "[objective][least_squares]") {
  // Three workers of different sizes and storage, one with its own lambda.
  const auto dense = test::random_dataset(Storage::dense, data::Task::regression, 40, 5, 21);
  const auto sparse = test::random_dataset(Storage::sparse, data::Task::regression, 30, 5, 22);
  std::vector<LeastSquares> workers;
  workers.emplace_back(data::Shard{dense, 0, 25}, LeastSquares::Params{.lambda = 0.01});
  workers.emplace_back(data::Shard{dense, 25, 40}, LeastSquares::Params{.lambda = 0.01});
  workers.emplace_back(data::whole(sparse), LeastSquares::Params{.lambda = 0.2});

  const Vector theta = objective::least_squares_minimizer(workers);
  REQUIRE(theta.size() == 5);
  Vector average = Vector::Zero(5);
  Vector g;
  for (auto& w : workers) {
    w.full_gradient(theta, g);
    average += g / 3.0;
  }
  CHECK(average.norm() < 1e-12);
  // A strict minimum: any step increases the average loss.
  auto average_loss = [&](const Vector& x) {
    double sum = 0;
    for (const auto& w : workers) sum += w.loss(x) / 3.0;
    return sum;
  };
  CHECK(average_loss(theta + 1e-3 * test::random_vector(5, 1)) > average_loss(theta));

  // The shard overload with one lambda for all.
  const std::vector<data::Shard> shards = {{dense, 0, 25}, {dense, 25, 40}, data::whole(sparse)};
  std::vector<LeastSquares> same;
  for (const auto& s : shards) same.emplace_back(s, LeastSquares::Params{.lambda = 0.05});
  const Vector from_shards = objective::least_squares_minimizer(shards, 0.05);
  CHECK(test::relative_error(from_shards, objective::least_squares_minimizer(same)) < 1e-14);
  Vector check = Vector::Zero(5);
  for (auto& w : same) {
    w.full_gradient(from_shards, g);
    check += g;
  }
  CHECK(check.norm() < 1e-12);
}

TEST_CASE("LeastSquares validates its inputs", "[objective][least_squares]") {
  const auto dataset = test::random_dataset(Storage::dense, data::Task::regression, 10, 3, 1);
  CHECK_THROWS_WITH(LeastSquares(data::whole(dataset), {.lambda = -2}), Catch::Contains("lambda"));
  CHECK_THROWS_AS(LeastSquares(data::whole(dataset), {.lambda = -2}), std::invalid_argument);
  CHECK_THROWS_AS(LeastSquares(data::Shard{dataset, 0, 0}), std::invalid_argument);
  // Any task: ±1 labels are targets like any other.
  const auto binary = test::random_dataset(Storage::sparse, data::Task::binary, 10, 3, 1);
  CHECK_NOTHROW(LeastSquares(data::whole(binary)));

  LeastSquares worker(data::whole(dataset));
  Vector g;
  CHECK_THROWS_WITH(worker.full_gradient(Vector::Zero(2), g), Catch::Contains("x.size()"));
  const std::vector<Index> outside = {10};
  CHECK_THROWS_AS(worker.gradient(Vector::Zero(3), outside, g), std::out_of_range);

  CHECK_THROWS_AS(objective::least_squares_minimizer(std::vector<LeastSquares>{}),
                  std::invalid_argument);
  const auto wider = test::random_dataset(Storage::dense, data::Task::regression, 10, 4, 1);
  const std::vector<data::Shard> mismatched = {data::whole(dataset), data::whole(wider)};
  CHECK_THROWS_WITH(objective::least_squares_minimizer(mismatched, 0.1), Catch::Contains("dim()"));
  CHECK_THROWS_WITH(
      objective::least_squares_minimizer(std::vector<data::Shard>{data::whole(dataset)}, -1.0),
      Catch::Contains("lambda"));
}

TEST_CASE("LeastSquares: invalid parameters name themselves, their value and the allowed range",
          "[objective][least_squares]") {
  using Catch::Contains;
  const auto dataset = test::random_dataset(Storage::dense, data::Task::regression, 10, 3, 1);
  const auto refused = [&](double lambda) {
    return test::refusal([&] { LeastSquares(data::whole(dataset), {.lambda = lambda}); });
  };
  CHECK_THAT(refused(-2), Contains("lambda = -2: must be >= 0 and finite"));
  CHECK_THAT(refused(std::nan("")), Contains("lambda = nan: must be >= 0 and finite"));
  CHECK(refused(0) == "accepted");
}
