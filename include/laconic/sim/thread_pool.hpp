#pragma once

// A small fixed pool that runs the tasks 0..n-1 of a parallel_for. Which thread runs which
// task does not matter to results: callers write each task's output to its own slot.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace laconic::sim {

class ThreadPool {
 public:
  // `threads` counts the calling thread, so ThreadPool(1) starts no thread at all.
  explicit ThreadPool(int threads) {
    for (int t = 1; t < threads; ++t) {
      workers_.emplace_back([this, t] { serve(t); });
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls task(i, thread) for i in [0, n), thread in [0, threads()); returns when all are
  // done. The first exception thrown by a task is rethrown here.
  template <class Task>
  void parallel_for(std::int64_t n, Task&& task) {
    if (workers_.empty() || n <= 1) {
      for (std::int64_t i = 0; i < n; ++i) task(i, 0);
      return;
    }
    std::function<void(std::int64_t, int)> job = std::ref(task);
    {
      std::lock_guard lock(mutex_);
      job_ = &job;
      size_ = n;
      next_.store(0);
      busy_.store(static_cast<int>(workers_.size()));
      error_ = nullptr;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    run(0);
    if (!spin_until([&] { return busy_.load() == 0; })) {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return busy_.load() == 0; });
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Waking a sleeping thread takes the kernel tens of microseconds, as long as a whole round
  // of small workers; so each side first polls for a while (spin_time) before it sleeps.
  static constexpr auto spin_time = std::chrono::microseconds(100);

  // Polls done() until it holds (true) or spin_time has passed (false).
  template <class Done>
  static bool spin_until(Done&& done) {
    const auto until = std::chrono::steady_clock::now() + spin_time;
    for (int i = 1;; ++i) {
      if (done()) return true;
      if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  void serve(int thread) {
    std::uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load() != seen || stopping_.load(); });
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
        if (stopping_.load()) return;
        seen = generation_.load();
      }
      run(thread);
      if (busy_.fetch_sub(1) == 1) {
        std::lock_guard lock(mutex_);  // so that a waiting parallel_for cannot miss it
        done_.notify_one();
      }
    }
  }

  void run(int thread) {
    for (std::int64_t i = next_.fetch_add(1); i < size_; i = next_.fetch_add(1)) {
      try {
        (*job_)(i, thread);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(size_);  // stop handing out tasks
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::function<void(std::int64_t, int)>* job_ = nullptr;
  std::int64_t size_ = 0;
  std::atomic<std::int64_t> next_{0};
  std::atomic<int> busy_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

}  // namespace laconic::sim
