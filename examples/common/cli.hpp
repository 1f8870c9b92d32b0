#pragma once

// Command-line flags shared by the examples, over CLI11: every example answers --help with
// its flags, and a mistake (an unknown flag, a value that is not a number or not one of the
// choices) prints what is wrong and exits with status 2.

#include <laconic/core/types.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace laconic::examples {

class Cli {
 public:
  // `description` is what --help says the program does.
  Cli(std::string program, std::string description) : app_(std::move(description), program) {}

  // A flag with one value (a number must be all of its argument).
  template <class T>
  void add(const std::string& flag, T& target) {
    app_.add_option(flag, target)->capture_default_str();
  }
  // A flag whose value must be one of `choices`.
  template <class T>
  void add(const std::string& flag, T& target, const std::vector<T>& choices) {
    app_.add_option(flag, target)->capture_default_str()->check(CLI::IsMember(choices));
  }
  // A flag without a value, which sets `target`.
  void add_switch(const std::string& flag, bool& target) { app_.add_flag(flag, target); }

  // Refuses a combination of values the flags' own checks cannot see.
  [[noreturn]] void usage(std::string_view problem) const {
    fmt::print(stderr, "{}: {}\nRun with --help for more information.\n", app_.get_name(), problem);
    std::exit(2);
  }

  void parse(int argc, char** argv) {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
      std::exit(app_.exit(help));
    } catch (const CLI::ParseError& error) {
      app_.exit(error);
      std::exit(2);
    }
  }

 private:
  CLI::App app_;
};

}  // namespace laconic::examples
