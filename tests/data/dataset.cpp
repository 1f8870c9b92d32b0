#include <laconic/data/dataset.hpp>

#include "support.hpp"

using namespace laconic;
using Catch::Matchers::Contains;
using data::Dataset;
using data::Task;

TEST_CASE("a Dataset takes an r-value SparseMatrix and moves without copying it", "[data]") {
  SparseMatrix m(3, 1000);
  m.insert(0, 5) = 1.0;
  m.insert(2, 999) = -2.0;
  m.makeCompressed();
  const double* values = m.valuePtr();
  Dataset data(std::move(m), Vector::Ones(3), Task::binary);
  CHECK(data.sparse().valuePtr() == values);
  const auto shared = std::make_shared<const Dataset>(std::move(data));
  CHECK(shared->sparse().valuePtr() == values);
  CHECK(shared->sparse().coeff(2, 999) == -2.0);
  // Copies are real copies.
  const Dataset copy = *shared;
  CHECK(copy.sparse().valuePtr() != values);
  CHECK(copy.sparse().nonZeros() == 2);
}

TEST_CASE("Dataset::compact stores whichever form is smaller", "[data]") {
  DenseMatrix full = DenseMatrix::Ones(4, 3);
  const Dataset dense = Dataset::compact(DenseMatrix(full), Vector::Ones(4), Task::binary);
  CHECK_FALSE(dense.is_sparse());

  DenseMatrix mostly_zero = DenseMatrix::Zero(4, 100);
  mostly_zero(1, 7) = 2.5;
  const Dataset sparse = Dataset::compact(DenseMatrix(mostly_zero), Vector::Ones(4), Task::binary);
  REQUIRE(sparse.is_sparse());
  CHECK(sparse.sparse().nonZeros() == 1);
  CHECK(sparse.sparse().coeff(1, 7) == 2.5);
  CHECK(sparse.memory_bytes() < static_cast<std::size_t>(4 * 100 * sizeof(Scalar)));

  const SparseMatrix small = full.sparseView();
  CHECK_FALSE(Dataset::compact(SparseMatrix(small), Vector::Ones(4), Task::binary).is_sparse());
}

TEST_CASE("Dataset refuses labels that do not fit its task", "[data]") {
  const DenseMatrix a = DenseMatrix::Ones(3, 2);
  Vector labels(3);
  labels << 1, -1, 0;
  CHECK_THROWS_WITH(Dataset(a, labels, Task::binary),
                    Contains("labels[2] = 0") && Contains("+1 or -1"));
  labels << 0, 2, 1.5;
  CHECK_THROWS_WITH(Dataset(a, labels, Task::multiclass, 3),
                    Contains("labels[2] = 1.5") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(Dataset(a, labels, Task::multiclass, 1), Contains("num_classes = 1"));
  CHECK_THROWS_WITH(Dataset(a, Vector::Ones(2), Task::regression), Contains("labels.size() = 2"));
  CHECK(Dataset(a, labels, Task::regression).num_classes() == 0);
  CHECK_THAT(test::refusal([&] { Dataset(a, labels, static_cast<Task>(3)); }),
             Contains("task = 3: must be binary, multiclass or regression"));
}
