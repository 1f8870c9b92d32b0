#pragma once

// A small fixed pool that runs the tasks 0..n-1 of a parallel_for. Which thread runs which
// task does not matter to results: callers write each task's output to its own slot.

#include <atomic>
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
      stopping_ = true;
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
      busy_ = static_cast<int>(workers_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    run(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void serve(int thread) {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      run(thread);
      std::lock_guard lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
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
  int busy_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace laconic::sim
