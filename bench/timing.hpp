#pragma once

// Timing helpers shared by the benchmarks. Every figure a benchmark prints is a ratio to a
// baseline timed in the same run, since the machine is shared and noisy.

#include <algorithm>
#include <chrono>
#include <vector>

namespace laconic::bench {

// The median wall-clock seconds of `repetitions` calls of run().
template <class F>
double median_seconds(int repetitions, F&& run) {
  std::vector<double> seconds;
  seconds.reserve(static_cast<std::size_t>(repetitions));
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

// Keeps the compiler from discarding a computed value.
template <class T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace laconic::bench
