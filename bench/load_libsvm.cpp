// Loading a9a (32561 x 123, LIBSVM text): the median time of read_libsvm over several runs,
// and its ratio to the median time of only reading the file's bytes (read_file) in the same
// run, which is the floor any parser has to pay.
//
// Usage: bench_load_libsvm [path to a9a] [repetitions]
// Without a path it looks for a9a/a9a under LACONIC_BENCH_DATA_DIR and skips when absent.

#include <laconic/data/io.hpp>
#include <laconic/data/libsvm.hpp>

#include <fmt/format.h>

#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using laconic::bench::median_seconds;

int main(int argc, char** argv) {
  std::filesystem::path path;
  if (argc > 1) {
    path = argv[1];
  } else {
#ifdef LACONIC_BENCH_DATA_DIR
    path = std::filesystem::path(LACONIC_BENCH_DATA_DIR) / "a9a" / "a9a";
#endif
  }
  const int repetitions = argc > 2 ? std::max(1, std::atoi(argv[2])) : 21;
  if (path.empty() || !std::filesystem::exists(path)) {
    fmt::print("SKIPPED: a9a not found at '{}' (pass its path as the first argument)\n",
               path.string());
    return 0;
  }

  // The first load pays for the page cache and for fresh memory; the median below is of
  // later loads.
  const auto first_start = std::chrono::steady_clock::now();
  const auto data = laconic::data::read_libsvm(path);
  const double first =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_start).count();
  const auto bytes = laconic::data::read_file(path).size();
  fmt::print("{}: {} rows x {} features, {} non-zeros, {:.2f} MB\n", path.string(), data.rows(),
             data.cols(), data.is_sparse() ? data.sparse().nonZeros() : data.rows() * data.cols(),
             static_cast<double>(bytes) / 1e6);

  std::size_t sink = 0;
  const double read =
      median_seconds(repetitions, [&] { sink += laconic::data::read_file(path).size(); });
  const double load = median_seconds(repetitions, [&] {
    sink += static_cast<std::size_t>(laconic::data::read_libsvm(path).rows());
  });
  const double shared = median_seconds(repetitions, [&] {
    const auto owned =
        std::make_shared<const laconic::data::Dataset>(laconic::data::read_libsvm(path));
    sink += static_cast<std::size_t>(owned->rows());
  });
  fmt::print("first read_libsvm  {:8.3f} ms\n", first * 1e3);
  fmt::print("read_file   median {:8.3f} ms ({:.0f} MB/s)\n", read * 1e3,
             static_cast<double>(bytes) / read / 1e6);
  fmt::print("read_libsvm median {:8.3f} ms ({:.0f} MB/s), {:.1f}x read_file, {} runs\n",
             load * 1e3, static_cast<double>(bytes) / load / 1e6, load / read, repetitions);
  // Moving a Dataset copies its SparseMatrix (Eigen 3.4's has no move constructor).
  fmt::print("make_shared<const Dataset>(read_libsvm) median {:8.3f} ms, {:.2f}x read_libsvm\n",
             shared * 1e3, shared / load);
  return sink == 0 ? 1 : 0;
}
