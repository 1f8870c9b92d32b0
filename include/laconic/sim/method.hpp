#pragma once

// A method is a compile-time composition of four policies; its runtime parameters are the
// policies' Params, set with designated initializers:
//   laconic::Sgd method{.server = {.step = server::StepSize::constant(0.5),
//                                  .batch = server::Batch::of(32)}};

#include <laconic/compress/identity.hpp>

namespace laconic {

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
};

}  // namespace laconic
