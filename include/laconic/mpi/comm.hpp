#pragma once

// The little of MPI the transport needs, through the C API: which logical workers a rank
// hosts, what a rank put on the wire, calls whose failure names the call, and the collectives
// of a run with the gather that ends each of its phases (the failure protocol).

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>

#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace laconic::mpi {

// A run that a peer stopped with an error (a malformed message, a failed computation): every
// rank raises it, so that none is left waiting in a collective.
class PeerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws std::runtime_error naming the call unless it succeeded. With MPI's default error
// handler (MPI_ERRORS_ARE_FATAL) a failed call aborts the job before returning; this is for
// communicators whose handler returns.
inline void check(int code, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(
      fmt::format("laconic::mpi: {} failed: {}", call, std::string_view(text, length)));
}

inline int rank_in(MPI_Comm comm) {
  int rank = 0;
  check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  return rank;
}
inline int size_of(MPI_Comm comm) {
  int size = 0;
  check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  return size;
}

// The logical workers [first, last) a rank hosts. Rank 0 is the server and hosts none; the
// P = ranks − 1 worker ranks hold contiguous blocks, rank r the workers
// ⌊(r−1)M/P⌋ … ⌊rM/P⌋ − 1 (a rank may hold none when P > M).
struct Block {
  Index first = 0;
  Index last = 0;

  Index size() const { return last - first; }
  bool contains(Index m) const { return m >= first && m < last; }

  static Block of(int rank, int ranks, Index workers) {
    if (rank <= 0 || ranks < 2) return {};
    const Index p = ranks - 1;
    return {(rank - 1) * workers / p, rank * workers / p};
  }
};

// What one rank moved, in bytes. Payload is the encoded messages, whose sizes are the
// ledger's bits rounded up to whole bytes per message; a broadcast counts once per receiving
// rank on the server and once on each receiver. Control is everything else: commands, the
// per-message accounting beside each upload, the exact θ and full gradients moved to measure
// the History's loss (measurement, not training, like the History itself), and checkpoints.
struct Wire {
  std::uint64_t payload_sent = 0;
  std::uint64_t payload_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t control_sent = 0;
  std::uint64_t control_received = 0;

  Wire& operator+=(const Wire& o) {
    payload_sent += o.payload_sent;
    payload_received += o.payload_received;
    messages_sent += o.messages_sent;
    messages_received += o.messages_received;
    control_sent += o.control_sent;
    control_received += o.control_received;
    return *this;
  }
  friend bool operator==(const Wire&, const Wire&) = default;
};

// An MPI count for n items of one buffer; MPI counts are ints.
inline int count_of(std::uint64_t n, std::string_view what) {
  if (n > static_cast<std::uint64_t>(INT_MAX)) {
    throw std::length_error(fmt::format(
        "laconic::mpi: {} of {} items exceeds MPI's int count limit {}", what, n, INT_MAX));
  }
  return static_cast<int>(n);
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// What rank 0 gathered at the end of a phase: each worker rank's bytes, and the failures.
struct Gathered {
  std::vector<std::uint8_t> bytes;
  std::vector<int> at;   // rank r's bytes are [at[r], at[r + 1])
  std::string failures;  // "laconic::mpi: rank r failed in round k (phase): why; …"

  std::span<const std::uint8_t> of(int rank) const {
    const auto r = static_cast<std::size_t>(rank);
    return {bytes.data() + at[r], static_cast<std::size_t>(at[r + 1] - at[r])};
  }
};

// The collectives of a run between rank 0, the server, and the worker ranks, each counting in
// wire() what this rank moved.
class Collectives {
 public:
  explicit Collectives(MPI_Comm comm) : comm_(comm), rank_(rank_in(comm)), ranks_(size_of(comm)) {}

  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  bool is_server() const { return rank_ == 0; }
  const Wire& wire() const { return wire_; }
  Wire& wire() { return wire_; }

  // Control bytes from rank 0 to every rank.
  void bcast(void* data, std::uint64_t bytes) {
    check(MPI_Bcast(data, count_of(bytes, "broadcast bytes"), MPI_BYTE, 0, comm_), "MPI_Bcast");
    count(bytes, false);
  }
  // An encoded message from rank 0 to every rank.
  void bcast_message(std::uint8_t* data, std::uint64_t bytes) {
    check(MPI_Bcast(data, count_of(bytes, "message bytes"), MPI_BYTE, 0, comm_), "MPI_Bcast");
    count(bytes, true);
  }
  // An encoded message from rank 0 to one rank, and its receipt there.
  void send_message(const std::uint8_t* data, std::uint64_t bytes, int to) {
    check(MPI_Send(data, count_of(bytes, "message bytes"), MPI_BYTE, to, message_tag, comm_),
          "MPI_Send");
    wire_.payload_sent += bytes;
    wire_.messages_sent += 1;
  }
  void receive_message(std::uint8_t* data, std::uint64_t bytes) {
    check(MPI_Recv(data, count_of(bytes, "message bytes"), MPI_BYTE, 0, message_tag, comm_,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
    wire_.payload_received += bytes;
    wire_.messages_received += 1;
  }

  // Rank `root`'s text on every rank.
  std::string broadcast_text(std::string text, int root = 0) {
    std::int64_t length = static_cast<std::int64_t>(text.size());
    check(MPI_Bcast(&length, 1, MPI_INT64_T, root, comm_), "MPI_Bcast");
    text.resize(static_cast<std::size_t>(length));
    check(MPI_Bcast(text.data(), count_of(text.size(), "text"), MPI_CHAR, root, comm_),
          "MPI_Bcast");
    return text;
  }

  // The error of the lowest rank that has one, on every rank ("" if none).
  std::string first_error(const std::string& mine) {
    const int failed = mine.empty() ? ranks_ : rank_;
    int first = ranks_;
    check(MPI_Allreduce(&failed, &first, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
    if (first == ranks_) return {};
    return broadcast_text(mine, first);
  }

  // The end of a phase: each worker rank's bytes — messages when `messages`, else control —
  // or, if it failed, the reason in their place, gathered on rank 0 into `into`, whose
  // failures name the rank, round k and the phase. They are returned after the gather, so
  // that every rank has left the phase's collectives before anyone raises them.
  void gather(std::span<const std::uint8_t> mine, bool failed, bool messages, Gathered& into,
              const char* phase, Index k) {
    std::int64_t sizes[2] = {failed ? 1 : 0, static_cast<std::int64_t>(mine.size())};
    const std::size_t n = is_server() ? static_cast<std::size_t>(ranks_) : 0;
    std::vector<std::int64_t> all(2 * n);
    check(MPI_Gather(sizes, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, 0, comm_), "MPI_Gather");
    std::vector<int> counts(n);
    into.at.assign(n + 1, 0);
    std::uint64_t total = 0;
    for (std::size_t r = 1; r < n; ++r) {
      const std::int64_t size = all[2 * r + 1];
      if (size < 0) {
        throw DecodeError(fmt::format("laconic::mpi: rank {} declared {} bytes", r, size));
      }
      into.at[r] = count_of(total, "gathered bytes");
      counts[r] = count_of(static_cast<std::uint64_t>(size), "gathered bytes");
      total += static_cast<std::uint64_t>(size);
    }
    if (is_server()) into.at.back() = count_of(total, "gathered bytes");
    into.bytes.resize(total);
    check(MPI_Gatherv(mine.data(), count_of(mine.size(), "gathered bytes"), MPI_BYTE,
                      into.bytes.data(), counts.data(), into.at.data(), MPI_BYTE, 0, comm_),
          "MPI_Gatherv");
    into.failures.clear();
    if (!is_server()) {
      wire_.control_sent += sizeof sizes;
      (messages && !failed ? wire_.payload_sent : wire_.control_sent) += mine.size();
      return;
    }
    for (std::size_t r = 1; r < n; ++r) {
      const bool rank_failed = all[2 * r] != 0;
      wire_.control_received += sizeof sizes;
      (messages && !rank_failed ? wire_.payload_received : wire_.control_received) +=
          static_cast<std::uint64_t>(counts[r]);
      if (!rank_failed) continue;
      const std::span<const std::uint8_t> text = into.of(static_cast<int>(r));
      into.failures += fmt::format(
          "{}laconic::mpi: rank {} failed in round {} ({}): {}", into.failures.empty() ? "" : "; ",
          r, k, phase, std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
    }
  }

 private:
  // A broadcast from rank 0 counts once per receiving rank there, and once on each receiver.
  void count(std::uint64_t bytes, bool message) {
    const std::uint64_t copies = is_server() ? static_cast<std::uint64_t>(ranks_ - 1) : 1;
    if (is_server()) {
      (message ? wire_.payload_sent : wire_.control_sent) += bytes * copies;
      if (message) wire_.messages_sent += copies;
    } else {
      (message ? wire_.payload_received : wire_.control_received) += bytes;
      if (message) wire_.messages_received += 1;
    }
  }

  static constexpr int message_tag = 7;

  MPI_Comm comm_;
  int rank_;
  int ranks_;
  Wire wire_;
};

}  // namespace laconic::mpi
