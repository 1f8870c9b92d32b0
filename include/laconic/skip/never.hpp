#pragma once

// The baseline skip rule: every worker takes part and uploads in every round.

#include <laconic/skip/skip_rule.hpp>

#include <string>

namespace laconic::skip {

class Never {
 public:
  struct Params {
    template <class V>
    void fields(V&&) {}
  };
  static constexpr Side side = Side::none;

  explicit Never(const Params& = {}) {}
  void start(const Setup&) {}
  void begin_round(Index, const Vector&) {}
  void end_round(double) {}
  template <class Io>
  void state(Io&) {}
  std::string describe() const { return "never"; }
};

}  // namespace laconic::skip
