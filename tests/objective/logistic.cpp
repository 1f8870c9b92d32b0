#include <laconic/core/concepts.hpp>
#include <laconic/objective/logistic.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "objective/fixtures.hpp"
#include "support.hpp"

using namespace laconic;
using objective::Logistic;
using objective::Regularizer;
using test::Storage;

static_assert(Objective<Logistic>);
static_assert(HasFullGradient<Logistic>);
static_assert(HasSmoothness<Logistic>);
static_assert(HasAccuracy<Logistic>);
static_assert(HasGradientOnly<Logistic>);
static_assert(HasFullGradientOnly<Logistic>);

namespace {

// A worker on rows [5, 33) of a random 40×7 binary dataset.
Logistic make_worker(Storage storage, Regularizer r, double lambda = 0.1, std::uint64_t seed = 3) {
  const auto dataset = test::random_dataset(storage, data::Task::binary, 40, 7, seed);
  return Logistic(data::Shard{dataset, 5, 33}, {.lambda = lambda, .regularizer = r});
}

}  // namespace

TEST_CASE("Logistic gradients match central finite differences", "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  INFO(test::storage_name(storage) << ", " << objective::to_string(r));
  Logistic worker = make_worker(storage, r);
  const Vector x = test::random_vector(worker.dim(), 17, 0.8);

  Vector g;
  const double loss = worker.full_gradient(x, g);
  CHECK(loss == Approx(worker.loss(x)).epsilon(1e-14));
  const Vector numerical =
      test::numerical_gradient([&](const Vector& y) { return worker.loss(y); }, x);
  CHECK(test::relative_error(g, numerical) < 1e-6);

  const std::vector<Index> batch = {0, 3, 3, 27, 10};
  Vector scratch;
  worker.gradient(x, batch, g);
  const Vector numerical_batch = test::numerical_gradient(
      [&](const Vector& y) { return worker.gradient(y, batch, scratch); }, x);
  CHECK(test::relative_error(g, numerical_batch) < 1e-6);
}

TEST_CASE("Logistic minibatch gradient is the mean of single-sample gradients",
          "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  Logistic worker = make_worker(storage, r);
  const Vector x = test::random_vector(worker.dim(), 5);
  const std::vector<Index> batch = {4, 0, 27, 13, 13, 8};

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
  const double loss = worker.gradient(x, batch, g);
  CHECK(loss == Approx(mean_loss).epsilon(1e-13));
  CHECK(test::relative_error(g, mean) < 1e-13);
}

TEST_CASE("Logistic gradient_only and full_gradient_only give the same g bit for bit",
          "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  const double lambda = GENERATE(0.0, 0.1);
  Logistic worker = make_worker(storage, r, lambda);
  const Vector x = test::random_vector(worker.dim(), 9);
  for (const std::vector<Index>& batch : {std::vector<Index>{7}, std::vector<Index>{3, 0, 3, 27}}) {
    Vector with_loss, without(2);  // a wrong size on entry is resized
    worker.gradient(x, batch, with_loss);
    worker.gradient_only(x, batch, without);
    CHECK(without == with_loss);
  }
  Vector full, full_only;
  worker.full_gradient(x, full);
  worker.full_gradient_only(x, full_only);
  CHECK(full_only == full);
}

TEST_CASE("Logistic full_gradient equals gradient over the whole shard", "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  Logistic worker = make_worker(storage, r);
  const auto all = test::all_indices(worker.size());
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Vector x = test::random_vector(worker.dim(), seed);
    Vector full, batched;
    const double full_loss = worker.full_gradient(x, full);
    const double batch_loss = worker.gradient(x, all, batched);
    CHECK(full_loss == Approx(batch_loss).epsilon(1e-13));
    CHECK(test::relative_error(full, batched) < 1e-13);
    // The scratch is reused: a second call gives the same bits.
    Vector again;
    CHECK(worker.full_gradient(x, again) == full_loss);
    CHECK(again == full);
  }
}

TEST_CASE("Logistic loss at zero is log 2", "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  Logistic worker = make_worker(storage, r, 0.5);
  const Vector zero = Vector::Zero(worker.dim());
  Vector g;
  CHECK(worker.loss(zero) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(worker.full_gradient(zero, g) == Approx(std::log(2.0)).epsilon(1e-15));
  const std::vector<Index> batch = {1, 2};
  CHECK(worker.gradient(zero, batch, g) == Approx(std::log(2.0)).epsilon(1e-15));
}

TEST_CASE("Logistic stays finite at extreme margins", "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  INFO(test::storage_name(storage) << ", " << objective::to_string(r));
  Logistic worker = make_worker(storage, r, 1e-3);
  const Vector x = test::random_vector(worker.dim(), 23, 600.0);
  const Eigen::MatrixXd a = test::dense_rows(worker.shard());
  const Vector margins = (a * x).cwiseProduct(worker.shard().labels());
  REQUIRE(margins.cwiseAbs().maxCoeff() > 1e3);

  Vector g;
  const double loss = worker.full_gradient(x, g);
  REQUIRE(std::isfinite(loss));
  REQUIRE(g.allFinite());
  // A reference from the textbook formulas: log(1 + e^{−m}) is −m to double precision once
  // m < −40, where e^{−m} would overflow; 1/(1 + e^m) is safe as it is (it is 0 or 1 at the
  // extremes).
  const auto n = static_cast<double>(worker.size());
  double reference = 0;
  Vector expected = Vector::Zero(worker.dim());
  for (Index i = 0; i < worker.size(); ++i) {
    const double m = margins[i];
    reference += (m < -40 ? -m : std::log1p(std::exp(-m))) / n;
    expected -= worker.shard().labels()[i] / (1 + std::exp(m)) * a.row(i).transpose() / n;
  }
  reference += objective::regularizer_value(r, 1e-3, x);
  CHECK(loss == Approx(reference).epsilon(1e-12));
  objective::add_regularizer_gradient(r, 1e-3, x, expected);
  CHECK(test::relative_error(g, expected) < 1e-12);

  Vector gb;
  const double batch_loss = worker.gradient(x, test::all_indices(worker.size()), gb);
  CHECK(std::isfinite(batch_loss));
  CHECK(gb.allFinite());
  CHECK(std::isfinite(worker.loss(x)));
}

TEST_CASE("Logistic accuracy on a separable set", "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  // Points on either side of the hyperplane w·a = 0, at distance at least 0.5.
  Vector w(3);
  w << 1, -2, 0.5;
  w.normalize();
  DenseMatrix a = test::random_matrix(30, 3, 1.0, 9);
  Vector labels(30);
  for (Index i = 0; i < 30; ++i) {
    const double s = a.row(i).dot(w);
    labels[i] = s >= 0 ? 1 : -1;
    a.row(i) += (labels[i] * 0.5) * w.transpose();
  }
  const auto dataset = test::make_dataset(storage, a, labels, data::Task::binary);
  const Logistic worker(data::whole(dataset));
  CHECK(worker.accuracy(w) == 1.0);
  CHECK(worker.accuracy(-w) == 0.0);
  CHECK(worker.loss(10 * w) < worker.loss(w));
  // On a sub-shard, too.
  const Logistic part(data::Shard{dataset, 10, 20});
  CHECK(part.accuracy(w) == 1.0);
}

TEST_CASE("Logistic validates its inputs", "[objective][logistic]") {
  const auto binary = test::random_dataset(Storage::dense, data::Task::binary, 10, 3, 1);
  CHECK_THROWS_WITH(Logistic(data::whole(binary), {.lambda = -1}), Catch::Contains("lambda"));
  CHECK_THROWS_AS(Logistic(data::whole(binary), {.lambda = -1}), std::invalid_argument);
  CHECK_THROWS_WITH(Logistic(data::whole(binary), {.lambda = std::nan("")}),
                    Catch::Contains("lambda"));
  CHECK_THROWS_WITH(
      Logistic(data::whole(binary), {.lambda = std::numeric_limits<double>::infinity()}),
      Catch::Contains("lambda"));
  CHECK_NOTHROW(Logistic(data::whole(binary), {.lambda = 0}));

  const auto multiclass = test::random_dataset(Storage::dense, data::Task::multiclass, 10, 3, 1, 3);
  CHECK_THROWS_AS(Logistic(data::whole(multiclass)), std::invalid_argument);
  CHECK_THROWS_WITH(Logistic(data::whole(multiclass)), Catch::Contains("binary"));
  const auto regression = test::random_dataset(Storage::sparse, data::Task::regression, 10, 3, 1);
  CHECK_THROWS_AS(Logistic(data::whole(regression)), std::invalid_argument);

  CHECK_THROWS_AS(Logistic(data::Shard{}), std::invalid_argument);
  CHECK_THROWS_AS(Logistic(data::Shard{binary, 4, 4}), std::invalid_argument);
  CHECK_THROWS_AS(Logistic(data::Shard{binary, 4, 11}), std::invalid_argument);

  Logistic worker(data::Shard{binary, 2, 6});
  Vector g;
  CHECK_THROWS_WITH(worker.full_gradient(Vector::Zero(4), g), Catch::Contains("x.size()"));
  CHECK_THROWS_AS(worker.loss(Vector::Zero(2)), std::invalid_argument);
  const std::vector<Index> outside = {0, 4};
  CHECK_THROWS_AS(worker.gradient(Vector::Zero(3), outside, g), std::out_of_range);
  const std::vector<Index> negative = {-1};
  CHECK_THROWS_AS(worker.gradient(Vector::Zero(3), negative, g), std::out_of_range);
  CHECK_THROWS_AS(worker.gradient(Vector::Zero(3), std::span<const Index>(), g),
                  std::invalid_argument);
}

TEST_CASE("Logistic smoothness is the stated constant and an upper bound",
          "[objective][logistic]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const auto r = GENERATE(Regularizer::l2, Regularizer::nonconvex);
  INFO(test::storage_name(storage) << ", " << objective::to_string(r));
  const double lambda = 0.2;
  Logistic worker = make_worker(storage, r, lambda);
  const auto top = test::top_eigen_gram(worker.shard());
  const double reg = r == Regularizer::l2 ? lambda : 2 * lambda;
  const double smoothness = worker.smoothness();
  CHECK(smoothness == Approx(top.value / 4 + reg).epsilon(1e-8));
  CHECK(worker.smoothness() == smoothness);  // cached
  CHECK(Logistic(worker).smoothness() == smoothness);

  // ‖∇f(x) − ∇f(y)‖ ≤ L‖x − y‖ on random pairs at several scales.
  Vector gx, gy;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    const double scale = seed % 3 == 0 ? 0.1 : seed % 3 == 1 ? 1.0 : 5.0;
    const Vector x = test::random_vector(worker.dim(), 100 + seed, scale);
    const Vector y = x + test::random_vector(worker.dim(), 200 + seed, scale);
    worker.full_gradient(x, gx);
    worker.full_gradient(y, gy);
    CHECK((gx - gy).norm() <= smoothness * (x - y).norm());
  }
  // At θ = 0 both σ' = 1/4 and r'' = reg are at their largest, so along the top
  // eigenvector the bound is attained.
  const Vector zero = Vector::Zero(worker.dim());
  const Vector step = 1e-3 * top.vector;
  worker.full_gradient(zero, gx);
  worker.full_gradient(step, gy);
  const double ratio = (gx - gy).norm() / step.norm();
  CHECK(ratio <= smoothness * (1 + 1e-9));
  CHECK(ratio >= smoothness * (1 - 1e-5));
}

TEST_CASE("Logistic: invalid parameters name themselves, their value and the allowed range",
          "[objective][logistic]") {
  using Catch::Contains;
  const auto binary = test::random_dataset(Storage::dense, data::Task::binary, 10, 3, 1);
  const auto refused = [&](Logistic::Params p) {
    return test::refusal([&] { Logistic(data::whole(binary), p); });
  };
  CHECK_THAT(refused({.lambda = -1}), Contains("lambda = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.lambda = std::nan("")}), Contains("lambda = nan: must be >= 0 and finite"));
  CHECK_THAT(refused({.lambda = std::numeric_limits<double>::infinity()}),
             Contains("lambda = inf"));
  CHECK_THAT(refused({.regularizer = static_cast<Regularizer>(2)}),
             Contains("regularizer = 2: must be l2 or nonconvex"));
  CHECK(refused({.lambda = 0, .regularizer = Regularizer::nonconvex}) == "accepted");
}
