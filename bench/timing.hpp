#pragma once

// Timing helpers shared by the benchmarks. Every figure a benchmark prints is a ratio to a
// baseline timed in the same run, since the machine is shared and noisy.

#include <laconic/sim/simulation.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace laconic::bench {

// The wall-clock seconds of `repetitions` calls of run(), sorted.
template <class F>
std::vector<double> sorted_seconds(int repetitions, F&& run) {
  std::vector<double> seconds;
  seconds.reserve(static_cast<std::size_t>(repetitions));
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds;
}

// The median wall-clock seconds of `repetitions` calls of run().
template <class F>
double median_seconds(int repetitions, F&& run) {
  const std::vector<double> seconds = sorted_seconds(repetitions, run);
  return seconds[seconds.size() / 2];
}

// Runs `rounds` rounds of a simulation and returns the mean seconds of rounds 2..rounds−1,
// timed between callbacks: the first and the last round record History rows, which evaluate
// the loss on every worker (measurement, not training).
template <class Simulation>
double seconds_per_inner_round(Simulation& simulation, Index rounds) {
  std::chrono::steady_clock::time_point first, last;
  simulation.run([&](const sim::RoundView& view) {
    const auto now = std::chrono::steady_clock::now();
    if (view.round == 1) first = now;
    if (view.round == rounds - 1) last = now;
    return sim::Control::proceed;
  });
  return std::chrono::duration<double>(last - first).count() / static_cast<double>(rounds - 2);
}

// Keeps the compiler from discarding a computed value.
template <class T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace laconic::bench
