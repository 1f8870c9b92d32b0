#pragma once

// What a worker rank says about one participant's round beside its bytes, and the server's
// check of it against the bytes that arrived: the server trusts nothing a worker sends, so no
// count can overflow the ledger and no offset can read past what arrived.

#include <laconic/core/bits.hpp>
#include <laconic/core/types.hpp>
#include <laconic/sim/server_half.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace laconic::mpi {

// The most minibatch gradients one worker may report for one round (its own, its local steps,
// and those a skip rule asks for): a bound on what the server believes of a worker.
inline constexpr std::uint64_t max_gradients_per_round = std::uint64_t{1} << 20;

// All fields are u64 so that every rank reads one layout.
struct UploadHeader {
  std::uint64_t round = 0;
  std::uint64_t uploaded = 0;  // 0 or 1
  std::uint64_t fault = 0;     // sim::Fault
  std::uint64_t gradients = 0;
  std::uint64_t values = 0, indices = 0, metadata = 0, paper = 0;  // the message's bits
  std::uint64_t bytes = 0;
  // A server-side skip rule's report (SkipRule::report), after the message's bytes: 4 bytes
  // (a float) or 8 (a double), as many as the rule counts bits for it; 0 without one.
  std::uint64_t report_bytes = 0;

  // The header of `up`, a participant's part of round k, with a report of `report_bytes`; its
  // message and report are sent apart.
  static UploadHeader of(Index k, const sim::Upload& up, std::uint64_t report_bytes) {
    UploadHeader h{.round = static_cast<std::uint64_t>(k),
                   .fault = static_cast<std::uint64_t>(up.fault),
                   .gradients = up.gradients};
    if (!up.uploaded) return h;
    const Bits& bits = up.message.bits;
    h.uploaded = 1;
    h.values = bits.values;
    h.indices = bits.indices;
    h.metadata = bits.metadata;
    h.paper = bits.paper;
    h.bytes = up.message.bytes.size();
    h.report_bytes = report_bytes;
    return h;
  }

  // What the server refuses in it ("" if nothing), round k, dimension p, `room` bytes of its
  // rank's left unclaimed; `reports`: the run has a server-side skip rule.
  std::string problem(Index k, std::uint64_t p, std::uint64_t room, std::uint64_t most_gradients,
                      bool reports) const {
    if (round != static_cast<std::uint64_t>(k) || uploaded > 1 ||
        fault > static_cast<std::uint64_t>(sim::Fault::message) || (uploaded != 0 && fault != 0)) {
      return "a malformed header";
    }
    if (gradients < 1 || gradients > most_gradients) {
      return fmt::format("{} minibatch gradients, outside 1..{}", gradients, most_gradients);
    }
    if (report_bytes != 0 &&
        (uploaded == 0 || !reports || (report_bytes != 4 && report_bytes != 8))) {
      return fmt::format("a report of {} bytes", report_bytes);
    }
    if (bytes > room || report_bytes > room - bytes) {
      return fmt::format("{} bytes where its rank sent {} more", bytes + report_bytes, room);
    }
    const std::uint64_t most_bits = 8 * bytes;
    for (const std::uint64_t field : {values, indices, metadata}) {
      if (field > most_bits) return fmt::format("a bit count {} beyond its {} bytes", field, bytes);
    }
    const std::uint64_t bits = values + indices + metadata;
    const std::uint64_t expected = uploaded != 0 ? (bits + 7) / 8 : 0;
    if (bytes != expected) {
      return fmt::format("{} bytes where its {} bits need {}", bytes, bits, expected);
    }
    if (paper > 64 * (p + 1) + most_bits) {
      return fmt::format("a paper count {} beyond any message of dimension {}", paper, p);
    }
    return {};
  }

  // The upload the server accounts, from a header without problem(); a server-side rule's
  // report and bits are added by the server.
  sim::Upload upload() const {
    sim::Upload up;
    up.fault = static_cast<sim::Fault>(fault);
    up.uploaded = uploaded != 0;
    up.gradients = gradients;
    up.bits = Bits{.values = values, .indices = indices, .metadata = metadata, .paper = paper};
    return up;
  }
  // Its message's bits, as the decoder reads them.
  Bits message_bits() const { return {.values = values, .indices = indices, .metadata = metadata}; }
};

}  // namespace laconic::mpi
