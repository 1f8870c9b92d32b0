#pragma once

// Which workers take part in a round, for every server update: all of them; r of the n drawn
// uniformly without replacement (FedPAQ's S_k, Pr[S_k] = 1/C(n, r)); or each worker
// independently available with probability q (stragglers). Drawn from the (seed, round)
// participation stream, so every thread count and every run with one seed agree. Drawing
// costs O(r) or O(q·n) per round, never O(n), so n can be large.

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace laconic::server {

struct Participation {
  enum class Kind { all, sample, available };
  Kind kind = Kind::all;
  Index count = 0;         // sample: r
  double probability = 1;  // available: q

  static Participation all() { return {}; }
  static Participation sample(Index r) { return {.kind = Kind::sample, .count = r}; }
  static Participation available(double q) { return {.kind = Kind::available, .probability = q}; }

  // Each parameter by name, for methods chosen by name (runtime/spec.hpp): the kind, with the
  // parameters each kind reads and the kind a bare number chooses (as its first parameter).
  template <class V>
  void fields(V&& v) {
    v.kind(kind, {{"all", {}}, {"sample", {"count"}}, {"available", {"probability"}}},
           Kind::sample);
    v("count", count);
    v("probability", probability);
  }

  // What can be checked before n is known: by the server update's constructor.
  void validate() const {
    const int k = static_cast<int>(kind);
    require_param(k >= 0 && k <= 2, "participation.kind", k, "all, sample or available");
    if (kind == Kind::sample) require_param(count >= 1, "participation.count", count, ">= 1");
    if (kind == Kind::available) {
      require_param(probability >= 0 && probability <= 1, "participation.probability", probability,
                    "in [0, 1]");
    }
  }
  // `workers` is n, known once the run is set up.
  void validate(Index workers) const {
    validate();
    if (kind == Kind::sample) {
      require_param(count <= workers, "participation.count", count,
                    fmt::format("in 1..{} (the number of workers)", workers));
    }
  }
  bool is_all() const { return kind == Kind::all || (kind == Kind::available && probability == 1); }

  // The participants of `round` among n workers, ascending, into `out` (capacity n suffices).
  void draw(std::uint64_t seed, Index round, Index n, std::vector<Index>& out) const {
    out.clear();
    RandomStream rng(seed, Purpose::participation, static_cast<std::uint64_t>(round));
    if (is_all()) {
      for (Index m = 0; m < n; ++m) out.push_back(m);
    } else if (kind == Kind::sample) {
      // Floyd's algorithm: for j = n−r, …, n−1 pick t uniform in [0, j] and take t, or j if t
      // is taken already; every r-subset is equally likely.
      for (Index j = n - count; j < n; ++j) {
        const auto t = static_cast<Index>(rng.below(static_cast<std::uint64_t>(j + 1)));
        const Index pick = std::binary_search(out.begin(), out.end(), t) ? j : t;
        out.insert(std::upper_bound(out.begin(), out.end(), pick), pick);
      }
    } else if (probability > 0) {
      // The gaps between available workers are geometric: ⌊ln U / ln(1 − q)⌋.
      const double log_miss = std::log1p(-probability);
      for (Index m = -1;;) {
        const double gap = std::floor(std::log(rng.uniform_open()) / log_miss);
        if (gap >= static_cast<double>(n - 1 - m)) break;
        m += static_cast<Index>(gap) + 1;
        out.push_back(m);
      }
    }
  }

  std::string describe() const {
    switch (kind) {
      case Kind::all:
        return "all";
      case Kind::sample:
        return fmt::format("sample({})", count);
      case Kind::available:
        return fmt::format("available({})", probability);
    }
    return {};
  }
};

}  // namespace laconic::server
