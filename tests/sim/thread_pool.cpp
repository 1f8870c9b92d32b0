#include <laconic/sim/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using laconic::sim::ThreadPool;

TEST_CASE("the pool runs each task once, on its threads, whether they polled or slept",
          "[sim][threads]") {
  for (const int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    REQUIRE(pool.threads() == threads);
    std::vector<std::atomic<int>> runs(97);
    std::atomic<bool> thread_in_range{true};
    const auto round = [&] {
      pool.parallel_for(static_cast<std::int64_t>(runs.size()), [&](std::int64_t i, int t) {
        runs[static_cast<std::size_t>(i)].fetch_add(1);
        if (t < 0 || t >= threads) thread_in_range = false;
      });
    };
    // Back to back, the threads find each call while still polling; after a pause longer
    // than they poll, they have gone to sleep and must be woken.
    for (int r = 0; r < 200; ++r) round();
    for (int r = 0; r < 5; ++r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      round();
    }
    for (const auto& count : runs) CHECK(count.load() == 205);
    CHECK(thread_in_range);
  }
}

TEST_CASE("a task's exception reaches the caller, and the pool goes on working", "[sim][threads]") {
  ThreadPool pool(2);
  std::atomic<int> after{0};
  CHECK_THROWS_WITH(pool.parallel_for(50,
                                      [&](std::int64_t i, int) {
                                        if (i == 7) throw std::runtime_error("task 7 failed");
                                      }),
                    "task 7 failed");
  pool.parallel_for(50, [&](std::int64_t, int) { after.fetch_add(1); });
  CHECK(after.load() == 50);
}
