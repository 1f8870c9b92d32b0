#pragma once

// The little of MPI the transport needs, through the C API: which logical workers a rank
// hosts, what a rank put on the wire, and calls whose failure names the call.

#include <laconic/core/types.hpp>

#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

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
// rank on the server and once on each receiver. Control is everything else: round commands,
// the per-message accounting beside each upload, and the exact θ and full gradients moved to
// measure the History's loss (measurement, not training, like the History itself).
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

}  // namespace laconic::mpi
