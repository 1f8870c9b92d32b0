#pragma once

// A method chosen at run time: which skip rule (none, or one of either side), which channel on
// each link, which server update, all with their parameters. runtime::visit turns the choice
// into the compile-time method that runs it — laconic::Method<Skip, Channel, Server, Channel>,
// one of seven lawful compositions (three skip sides × three server updates, less a skip rule
// with local steps) — so every run of a chosen method is a run of the round engine as compiled
// for the fixed one, bit for bit (runtime/simulation.hpp runs it).
//
//   runtime::Method lasg{.skip = runtime::rule<skip::LasgWk2>({.D = 50}),
//                        .uplink = runtime::channel<compress::Qsgd>({.levels = 7}),
//                        .server = server::Sgd::Params{.step = server::StepSize::constant(0.1)}};

#include <laconic/core/errors.hpp>
#include <laconic/runtime/channel.hpp>
#include <laconic/runtime/skip_rule.hpp>
#include <laconic/server/amsgrad.hpp>
#include <laconic/server/periodic_average.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/sim/composition.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/skip/never.hpp>

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace laconic::runtime {

// No skip rule (every worker uploads), or a rule of either side with its parameters.
using SkipChoice = std::variant<skip::Never::Params, WorkerRule::Params, ServerRule::Params>;
// The server update, chosen by its parameters' type.
using ServerChoice =
    std::variant<server::Sgd::Params, server::PeriodicAverage::Params, server::Amsgrad::Params>;

struct Method {
  SkipChoice skip{};
  Channel::Params uplink{};  // empty: the exact link
  ServerChoice server{};
  Channel::Params downlink{};
  int float_bits = 64;                    // laconic::Method::float_bits
  std::optional<int> paper_index_bits{};  // unset: the convention of the server update's paper
};

namespace detail {

template <class P>
struct SkipOf;
template <>
struct SkipOf<skip::Never::Params> {
  using type = skip::Never;
};
template <>
struct SkipOf<WorkerRule::Params> {
  using type = WorkerRule;
};
template <>
struct SkipOf<ServerRule::Params> {
  using type = ServerRule;
};

template <class P>
struct ServerOf;
template <>
struct ServerOf<server::Sgd::Params> {
  using type = server::Sgd;
};
template <>
struct ServerOf<server::PeriodicAverage::Params> {
  using type = server::PeriodicAverage;
};
template <>
struct ServerOf<server::Amsgrad::Params> {
  using type = server::Amsgrad;
};

// The compile-time method that runs a choice of skip side S and server update U.
template <class S, class U>
using Fixed = laconic::Method<S, Channel, U, Channel>;

}  // namespace detail

// Calls f with the compile-time method (detail::Fixed<S, U>) that runs `method` and returns
// what f returns. An unlawful composition — a skip rule with local steps — is refused with the
// reason the compile-time check gives (ParamError naming "skip"); the other checks of a
// composition (a stateful downlink under a server-side rule) are made when it is built.
template <class F>
decltype(auto) visit(const Method& method, F&& f) {
  using Result = decltype(f(std::declval<const detail::Fixed<skip::Never, server::Sgd>&>()));
  return std::visit(
      [&]<class SkipParams, class ServerParams>(const SkipParams& skip,
                                                const ServerParams& server) -> Result {
        using S = typename detail::SkipOf<SkipParams>::type;
        using U = typename detail::ServerOf<ServerParams>::type;
        if constexpr (S::side != skip::Side::none && U::shape == server::Shape::local_steps) {
          throw ParamError("skip", within("skip", [&] { return S(skip); }).describe(),
                           "never when the server update takes local steps (" +
                               U(server).describe() +
                               "): " LACONIC_WHY_NO_SKIP_RULE_WITH_LOCAL_STEPS);
        } else {
          detail::Fixed<S, U> fixed;
          fixed.skip = skip;
          fixed.uplink = method.uplink;
          fixed.server = server;
          fixed.downlink = method.downlink;
          fixed.float_bits = method.float_bits;
          if (method.paper_index_bits) fixed.paper_index_bits = *method.paper_index_bits;
          return f(std::as_const(fixed));
        }
      },
      method.skip, method.server);
}

}  // namespace laconic::runtime
