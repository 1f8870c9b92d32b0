#pragma once

// Command-line flags shared by the examples: every flag but a switch takes one value, a number
// must be all of its argument, and any mistake prints the usage line and exits with status 2.

#include <laconic/core/types.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::examples {

class Cli {
 public:
  // `synopsis` is what follows the program's name on the usage line.
  Cli(std::string program, std::string synopsis)
      : program_(std::move(program)), synopsis_(std::move(synopsis)) {}

  [[noreturn]] void usage(std::string_view problem) const {
    fmt::print(stderr, "{}: {}\nusage: {} {}\n", program_, problem, program_, synopsis_);
    std::exit(2);
  }

  void add(std::string flag, Index& target) { add_number(std::move(flag), target); }
  void add(std::string flag, int& target) { add_number(std::move(flag), target); }
  void add(std::string flag, double& target) { add_number(std::move(flag), target); }
  void add(std::string flag, std::filesystem::path& target) {
    valued_[std::move(flag)] = [&target](std::string_view, std::string_view value) {
      target = value;
    };
  }
  // A flag whose value must be one of `choices`.
  void add(std::string flag, std::string& target, std::vector<std::string> choices) {
    valued_[std::move(flag)] = [this, &target, choices = std::move(choices)](
                                   std::string_view name, std::string_view value) {
      if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
        usage(fmt::format("{} expects one of {}, got '{}'", name, fmt::join(choices, ", "), value));
      }
      target = value;
    };
  }
  // A whole-number flag whose value must be one of `choices`.
  void add(std::string flag, int& target, std::vector<int> choices) {
    valued_[flag] = [this, &target, choices = std::move(choices)](std::string_view name,
                                                                  std::string_view text) {
      int value{};
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc{} || end != text.data() + text.size() ||
          std::find(choices.begin(), choices.end(), value) == choices.end()) {
        usage(fmt::format("{} expects one of {}, got '{}'", name, fmt::join(choices, ", "), text));
      }
      target = value;
    };
  }
  // A flag without a value, which sets `target`.
  void add_switch(std::string flag, bool& target) { switches_[std::move(flag)] = &target; }

  void parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string_view flag = argv[i];
      if (const auto s = switches_.find(flag); s != switches_.end()) {
        *s->second = true;
        continue;
      }
      if (i + 1 == argc) usage(fmt::format("unknown argument or missing value: {}", flag));
      const std::string_view value = argv[++i];
      const auto v = valued_.find(flag);
      if (v == valued_.end()) usage(fmt::format("unknown argument {}", flag));
      v->second(flag, value);
    }
  }

 private:
  template <class T>
  void add_number(std::string flag, T& target) {
    valued_[std::move(flag)] = [this, &target](std::string_view name, std::string_view text) {
      T value{};
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc{} || end != text.data() + text.size()) {
        usage(fmt::format("{} expects {}, got '{}'", name,
                          std::is_integral_v<T> ? "a whole number" : "a number", text));
      }
      target = value;
    };
  }

  using Setter = std::function<void(std::string_view flag, std::string_view value)>;
  std::string program_;
  std::string synopsis_;
  std::map<std::string, Setter, std::less<>> valued_;
  std::map<std::string, bool*, std::less<>> switches_;
};

}  // namespace laconic::examples
