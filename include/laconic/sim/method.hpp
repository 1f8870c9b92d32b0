#pragma once

// A method is a compile-time composition of four policies; its runtime parameters are the
// policies' Params, set with designated initializers, and the conventions of its links:
//   laconic::Sgd method{.server = {.step = server::StepSize::constant(0.5),
//                                  .batch = server::Batch::of(32)}};
//   laconic::Ef21<compress::TopK> ef21{.uplink = {.compressor = {.k = 1}}, .float_bits = 32};

#include <laconic/compress/compressor.hpp>
#include <laconic/compress/identity.hpp>

namespace laconic {

// The papers' count of a sparse message's indices (Bits::paper) for methods on server update
// S: S::paper_index_bits when S declares it (CD-Adam's AMSGrad: 32), else 0.
template <class S>
constexpr int default_paper_index_bits() {
  if constexpr (requires { S::paper_index_bits; }) {
    return S::paper_index_bits;
  } else {
    return 0;
  }
}

template <class Skip, class Uplink, class Server, class Downlink = compress::Identity>
struct Method {
  using SkipRule = Skip;
  using UplinkCompressor = Uplink;
  using ServerUpdate = Server;
  using DownlinkCompressor = Downlink;

  typename Skip::Params skip{};
  typename Uplink::Params uplink{};
  typename Server::Params server{};
  typename Downlink::Params downlink{};
  // The width of every float on every link: 64, the papers' exact arithmetic (the default),
  // or 32, the papers' wire format (docs/simulation.md says what that rounds and costs).
  // Bits::paper counts floats as 32 bits either way.
  int float_bits = 64;
  // How Bits::paper counts a sparse message's indices: the convention of the method's paper.
  int paper_index_bits = default_paper_index_bits<Server>();

  // The links' conventions, checked.
  compress::Wire wire() const {
    const compress::Wire wire{.float_bits = float_bits, .paper_index_bits = paper_index_bits};
    wire.validate();
    return wire;
  }
};

}  // namespace laconic
