#pragma once

// The baseline skip rule: every worker takes part and uploads in every round.

#include <string>

namespace laconic::skip {

class Never {
 public:
  struct Params {};

  explicit Never(const Params& = {}) {}
  std::string describe() const { return "never"; }
};

}  // namespace laconic::skip
