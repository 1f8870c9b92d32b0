#pragma once

// Exact communication and computation counts, per worker and in total.

#include <laconic/core/bits.hpp>
#include <laconic/core/types.hpp>

#include <cstdint>
#include <vector>

namespace laconic {

struct Traffic {
  std::uint64_t uploads = 0;           // messages worker → server
  std::uint64_t downloads = 0;         // messages server → worker
  Bits up;                             // uplink bits
  Bits down;                           // downlink bits
  std::uint64_t gradient_samples = 0;  // per-sample gradient evaluations
  // Of the above, what the server dropped (sim::CostModel's deadline and over-selection):
  // uploads that arrived too late, their bits, and the sample gradients spent on them.
  std::uint64_t dropped_uploads = 0;
  std::uint64_t dropped_bits_up = 0;
  std::uint64_t dropped_samples = 0;

  Traffic& operator+=(const Traffic& o) {
    uploads += o.uploads;
    downloads += o.downloads;
    up += o.up;
    down += o.down;
    gradient_samples += o.gradient_samples;
    dropped_uploads += o.dropped_uploads;
    dropped_bits_up += o.dropped_bits_up;
    dropped_samples += o.dropped_samples;
    return *this;
  }
  friend bool operator==(const Traffic&, const Traffic&) = default;

  template <class Io>
  void state(Io& io) {
    io(uploads);
    io(downloads);
    for (Bits* b : {&up, &down}) {
      io(b->values);
      io(b->indices);
      io(b->metadata);
      io(b->paper);
    }
    io(gradient_samples);
    io(dropped_uploads);
    io(dropped_bits_up);
    io(dropped_samples);
  }
};

// Not thread-safe: the simulation records each round's counts in worker order after the
// parallel part.
class Ledger {
 public:
  explicit Ledger(Index workers = 0) : workers_(static_cast<std::size_t>(workers)) {}

  void upload(Index worker, const Bits& bits) {
    at(worker).uploads += 1;
    at(worker).up += bits;
    total_.uploads += 1;
    total_.up += bits;
  }
  void download(Index worker, const Bits& bits) {
    at(worker).downloads += 1;
    at(worker).down += bits;
    total_.downloads += 1;
    total_.down += bits;
  }
  void gradient_samples(Index worker, std::uint64_t samples) {
    at(worker).gradient_samples += samples;
    total_.gradient_samples += samples;
  }
  // An upload (already counted) and the computation behind it that the server dropped.
  void dropped(Index worker, const Bits& bits, std::uint64_t samples) {
    for (Traffic* t : {&at(worker), &total_}) {
      t->dropped_uploads += 1;
      t->dropped_bits_up += bits.total();
      t->dropped_samples += samples;
    }
  }

  Index workers() const { return static_cast<Index>(workers_.size()); }
  const Traffic& worker(Index m) const { return workers_.at(static_cast<std::size_t>(m)); }
  const Traffic& total() const { return total_; }
  friend bool operator==(const Ledger&, const Ledger&) = default;
  template <class Io>
  void state(Io& io) {
    io(workers_);
    io(total_);
  }

 private:
  Traffic& at(Index m) { return workers_.at(static_cast<std::size_t>(m)); }

  std::vector<Traffic> workers_;
  Traffic total_;
};

}  // namespace laconic
