#pragma once

// A method's policies as a run holds them, the same for both transports (in process,
// sim/simulation.hpp, and over MPI, mpi/training.hpp): the compile-time checks of their
// composition, their construction with every invalid parameter named by its path from the
// method, and what the run learns and checks when it is set up.

#include <laconic/compress/channel.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/server/server_update.hpp>
#include <laconic/sim/run.hpp>
#include <laconic/skip/skip_rule.hpp>
#include <laconic/version.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

// Why a skip rule cannot run with local steps: said by the compile-time check below and, for a
// method chosen at run time, by runtime::visit (a macro, as static_assert needs a literal).
#define LACONIC_WHY_NO_SKIP_RULE_WITH_LOCAL_STEPS                                               \
  "skip rules decide on gradients, while periodic averaging uploads model changes after local " \
  "steps: use skip::Never with server::PeriodicAverage"

namespace laconic::sim {

// What a worker says of itself when a run is set up.
struct WorkerShape {
  Index dim = 0;                                                 // its objective's dim()
  Index size = 0;                                                // and size()
  double smoothness = std::numeric_limits<double>::quiet_NaN();  // L_m, when known
};

// The checks both transports make when a run of method M is set up, naming each parameter by
// its path from the method.
template <class M, class Uplink, class Server, class Downlink>
void check_setup(const std::vector<WorkerShape>& workers, const Vector& theta0,
                 const Uplink& uplink, const Server& server, const Downlink& downlink,
                 const CostModel& cost) {
  constexpr bool lazy = M::SkipRule::side != skip::Side::none;
  constexpr bool broadcasts_aggregate = Server::shape == server::Shape::broadcast_aggregate;
  require_param(!workers.empty(), "workers.size()", workers.size(), ">= 1");
  const Index p = theta0.size();
  for (std::size_t m = 0; m < workers.size(); ++m) {
    const WorkerShape& w = workers[m];
    require_param(w.dim == p, fmt::format("workers[{}].dim()", m), w.dim,
                  fmt::format("equal to theta0.size() = {}", p));
    require_param(w.size >= 1, fmt::format("workers[{}].size()", m), w.size, ">= 1");
    const Index b = server.params().batch.size_for(w.size);
    require_param(b <= w.size, "server.batch.samples", b,
                  fmt::format("at most the {} samples of worker {}", w.size, m));
  }
  require_param(theta0.allFinite(), "theta0", "a non-finite entry", "finite");
  within("uplink", [&] { compress::require_dimension(uplink, p); });
  within("downlink", [&] { compress::require_dimension(downlink, p); });
  const server::Participation& participation = server.params().participation;
  within("server", [&] { participation.validate(static_cast<Index>(workers.size())); });
  if (!participation.is_all()) {
    require_param(!lazy, "server.participation", participation.describe(),
                  "all workers under a skip rule (it tracks every worker every round)");
    require_param(!compress::keeps_state(downlink) || broadcasts_aggregate, "server.participation",
                  participation.describe(),
                  "all workers when the downlink keeps state (every worker must hear it)");
  }
  // The cost model's ways of leaving workers out — offline workers, and (`dropping`) the
  // deadline and over-selection — meet the same limits; a dropped upload must also leave both
  // ends of its link as if it had not been sent. A refusal names the setting it is about.
  const auto refuse = [&](bool ok, bool dropping, std::string_view why) {
    if (ok) return;
    if (!dropping && !cost.availability.always()) {
      require_param(false, "cost.availability", cost.availability.describe(), why);
    }
    if (cost.keep > 0) require_param(false, "cost.keep", cost.keep, why);
    if (cost.deadline < infinite_time) require_param(false, "cost.deadline", cost.deadline, why);
  };
  if (cost.partial()) {
    refuse(!lazy, false, "unset under a skip rule (it tracks every worker every round)");
    refuse(!compress::keeps_state(downlink) || broadcasts_aggregate, false,
           "unset when the downlink keeps state (every worker must hear it)");
  }
  if (cost.drops()) {
    refuse(!compress::keeps_state(uplink), true,
           "unset when the uplink keeps state (a dropped upload would leave its two ends apart)");
  }
}

// Each worker's weight w_m in the global objective (Weighting), times M: 1 for the plain mean.
inline std::vector<double> worker_weights(const std::vector<WorkerShape>& workers,
                                          Weighting weighting) {
  std::vector<double> weights(workers.size(), 1.0);
  if (weighting == Weighting::samples) {
    double total = 0;
    for (const WorkerShape& w : workers) total += static_cast<double>(w.size);
    for (std::size_t m = 0; m < workers.size(); ++m) {
      weights[m] =
          static_cast<double>(workers.size()) * static_cast<double>(workers[m].size) / total;
    }
  }
  return weights;
}

// What is legal but likely wrong in a method's parameters, from what the objectives know of
// themselves: a step η₀ that gradient descent on f (or, for local steps, on a worker's f_m)
// cannot take stably, η₀ > 2/L with L = Σ_m w_m L_m ≥ f's smoothness (or the largest L_m).
// AMSGrad's normalised steps are not judged.
template <class Server>
std::vector<std::string> step_warnings(const Server& server,
                                       const std::vector<WorkerShape>& workers,
                                       const std::vector<double>& weights) {
  if constexpr (Server::shape == server::Shape::broadcast_aggregate) {
    return {};
  } else {
    double l = 0;
    for (std::size_t m = 0; m < workers.size(); ++m) {
      const double l_m = workers[m].smoothness;
      if (!std::isfinite(l_m)) return {};
      if constexpr (Server::shape == server::Shape::local_steps) {
        l = std::max(l, l_m);
      } else {
        l += weights[m] * l_m / static_cast<double>(workers.size());
      }
    }
    const double eta = server.params().step.at(0);
    if (l <= 0 || eta <= 2 / l) return {};
    return {fmt::format(
        "server.step: the first step η = {:.6g} exceeds 2/L = {:.6g}, where L = {:.6g} bounds the "
        "smoothness of {} (from the objectives' smoothness()): the run may diverge",
        eta, 2 / l, l, Server::shape == server::Shape::local_steps ? "the workers' f_m" : "f")};
  }
}

// The policies of method M (a plain compressor made a channel), owned by the run: in process
// one set serves the server and every worker; over MPI each rank holds its own.
template <class M>
class Composition {
 public:
  using Skip = typename M::SkipRule;
  using Uplink = compress::channel_t<typename M::UplinkCompressor>;
  using Server = typename M::ServerUpdate;
  using Downlink = compress::channel_t<typename M::DownlinkCompressor>;
  static constexpr skip::Side side = Skip::side;
  static constexpr bool lazy = side != skip::Side::none;
  static constexpr bool local_steps = Server::shape == server::Shape::local_steps;
  static constexpr bool broadcasts_aggregate = Server::shape == server::Shape::broadcast_aggregate;
  static_assert(skip::SkipRule<Skip>,
                "the method's skip rule does not meet the SkipRule contract (skip/skip_rule.hpp, "
                "docs/skip-rules.md): the compiler names the unsatisfied requirement");
  static_assert(server::ServerUpdate<Server>,
                "the method's server update does not meet the ServerUpdate contract "
                "(server/server_update.hpp, docs/server-updates.md): the compiler names the "
                "unsatisfied requirement");
  static_assert(!local_steps || !lazy, LACONIC_WHY_NO_SKIP_RULE_WITH_LOCAL_STEPS);
  static_assert(side != skip::Side::server || !compress::always_keeps_state<Downlink> ||
                    broadcasts_aggregate,
                "a server-side skip rule sends theta to some workers only, so the downlink "
                "channel cannot keep state shared by all of them: use a stateless downlink");

  explicit Composition(const M& method)
      : skip(within("skip", [&] { return Skip(method.skip); })),
        uplink(within("uplink", [&, wire = method.wire()] { return Uplink(method.uplink, wire); })),
        server(within("server", [&] { return Server(method.server); })),
        downlink(within("downlink",
                        [&, wire = method.wire()] { return Downlink(method.downlink, wire); })),
        float_bits(method.float_bits) {
    // What the static_assert above checks, for a downlink chosen at run time.
    if constexpr (side == skip::Side::server && !broadcasts_aggregate) {
      require_param(!compress::keeps_state(downlink), "downlink", downlink.describe(),
                    "a stateless channel: a server-side skip rule sends theta to some workers "
                    "only, so the downlink cannot keep state shared by all of them");
    }
  }

  // Checks the run against its workers and θ^0, weighs the workers and starts the skip rule;
  // every rank of an MPI run does the same from the same shapes.
  void start(const std::vector<WorkerShape>& workers, const Vector& theta0,
             const Options& options) {
    check_setup<M>(workers, theta0, uplink, server, downlink, options.cost);
    weights = worker_weights(workers, options.weighting);
    warnings = step_warnings(server, workers, weights);
    batch_sizes.clear();
    for (const WorkerShape& w : workers)
      batch_sizes.push_back(server.params().batch.size_for(w.size));
    skip::Setup setup{.workers = static_cast<Index>(workers.size()),
                      .dim = theta0.size(),
                      .step = server.params().step.at(0),
                      .weights = weights,
                      .float_bits = float_bits};
    const auto known = [](const WorkerShape& w) { return !std::isnan(w.smoothness); };
    if (side == skip::Side::server && std::all_of(workers.begin(), workers.end(), known)) {
      for (const WorkerShape& w : workers) setup.smoothness.push_back(w.smoothness);
    }
    within("skip", [&] { skip.start(setup); });
  }

  // The CSV header line: "laconic 0.1.0; label=...; skip=...; ...; seed=...; cost(...)".
  std::string describe(const Options& options, Index workers, Index dim) const {
    return fmt::format(
        "laconic {}.{}.{}; label={}; skip={}; uplink={}; server={}; downlink={}; workers={}; "
        "dim={}; seed={}; {}",
        version_major, version_minor, version_patch, options.label, skip.describe(),
        uplink.describe(), server.describe(), downlink.describe(), workers, dim, options.seed,
        options.cost.describe());
  }

  // Worker m's part of a run's state that, over MPI, only the rank hosting m holds: the
  // sending end of its uplink (a link's state, as in process, is its sender's: the receiver's
  // end is rebuilt from it) and its part of a worker-side skip rule's state.
  template <class Io>
  void worker_part(Index m, typename Uplink::State& sender, Io& io) {
    io(sender);
    if constexpr (side == skip::Side::worker) skip.worker_state(m, io);
  }

  Skip skip;
  Uplink uplink;
  Server server;
  Downlink downlink;
  int float_bits;                     // Method::float_bits
  std::vector<double> weights;        // M·w_m of each worker (Options::weighting), after start()
  std::vector<std::string> warnings;  // step_warnings(), after start()
  std::vector<Index> batch_sizes;     // b_m: the samples of one minibatch gradient of worker m
};

}  // namespace laconic::sim
