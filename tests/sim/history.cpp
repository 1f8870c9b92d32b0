#include <laconic/sim/history.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <stdexcept>

#include "support.hpp"

using namespace laconic;

namespace {

sim::History two_rows() {
  sim::History history{.description = "a test history", .rows = {}};
  sim::Record row;
  row.loss = 0.75;
  history.rows.push_back(row);
  row.round = 10;
  row.loss = 0.5;
  row.grad_norm_sq = 1e-3;
  row.time = 2.5;
  row.traffic.uploads = 20;
  history.rows.push_back(row);
  return history;
}

}  // namespace

TEST_CASE("write_csv writes to_csv() into missing folders, with nothing left beside it",
          "[sim][history]") {
  const auto dir = std::filesystem::temp_directory_path() / "laconic_tests" / "history_csv";
  std::filesystem::remove_all(dir);
  const auto path = dir / "nested" / "run.csv";
  const sim::History history = two_rows();
  history.write_csv(path);
  CHECK(test::read_file(path) == history.to_csv());
  CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  // A second write replaces the file whole.
  sim::History shorter = history;
  shorter.rows.pop_back();
  shorter.write_csv(path);
  CHECK(test::read_file(path) == shorter.to_csv());
}

TEST_CASE("write_csv that cannot write says which file and why, and keeps the old file",
          "[sim][history]") {
  const auto dir = std::filesystem::temp_directory_path() / "laconic_tests" / "history_csv_fail";
  std::filesystem::remove_all(dir);
  const auto path = dir / "run.csv";
  const sim::History history = two_rows();
  history.write_csv(path);
  // A folder where the temporary file would go: the write fails before the rename.
  std::filesystem::create_directories(path.string() + ".tmp");
  sim::History other = history;
  other.rows.pop_back();
  CHECK_THROWS_WITH(other.write_csv(path),
                    Catch::Contains("run.csv.tmp: cannot write the history: "));
  CHECK(test::read_file(path) == history.to_csv());
}
