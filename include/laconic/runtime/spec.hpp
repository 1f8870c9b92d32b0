#pragma once

// Methods chosen by name: a short specification such as
//   lasg-wk2(D=50) + qsgd(levels=7) + sgd(step=0.1, batch=32)
// read into a runtime::Method (runtime/method.hpp). Each `+` item is a policy, put in its slot
// by its name — a skip rule, a channel (the uplink; `down:` puts one on the downlink) or a
// server update — or a setting of the links, `float_bits=32`. A policy's arguments set its
// Params by name (each Params lists its fields(): the one list of its parameters), or in the
// order of that list (runtime/fields.hpp). A value is a number, a name, a call
// `name(arguments)` or a list `[...]`. Every mistake is refused with where it was written (a
// ParseError: source, line, column), the parameter's whole path, the value and what is
// allowed; a value the policy's own checks refuse is reported at the argument that gave it.
// docs/running-experiments.md describes the grammar and every name.
//
//   runtime::Method m = runtime::read_method("lasg-wk2 + qsgd(levels=7)", {"--method"});

#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/fp16.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/runtime/fields.hpp>
#include <laconic/runtime/method.hpp>
#include <laconic/skip/lag.hpp>
#include <laconic/skip/laq.hpp>
#include <laconic/skip/lasg.hpp>

#include <fmt/format.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace laconic::runtime {

// A method's specification, slot by slot, before it is built; unset: the default (no skip
// rule, exact links, plain SGD, 64-bit floats, the server's paper's index convention).
struct MethodSpec {
  std::optional<Value> skip, uplink, server, downlink, float_bits, paper_index_bits;

  // The slot called `name` ("up"/"down" for short); nullptr for no such slot.
  std::optional<Value>* slot(std::string_view name) {
    if (name == "skip") return &skip;
    if (name == "uplink" || name == "up") return &uplink;
    if (name == "server") return &server;
    if (name == "downlink" || name == "down") return &downlink;
    if (name == "float_bits") return &float_bits;
    if (name == "paper_index_bits") return &paper_index_bits;
    return nullptr;
  }
  static constexpr std::string_view slots =
      "skip, uplink (up), server, downlink (down), float_bits or paper_index_bits";
};

namespace detail {

// Reads the text of a specification.
class Parser {
 public:
  Parser(std::string_view text, Where origin) : text_(text), origin_(std::move(origin)) {}

  // The whole text: `item (+ item)*`, each item `slot:value`, `setting=value` or a policy.
  MethodSpec method();
  // The whole text as one value.
  Value whole_value() {
    Value v = value();
    end();
    return v;
  }

 private:
  Value value();
  std::string name();
  void end() {
    space();
    if (at_ < text_.size()) expected("the end of the specification or '+'");
  }
  void space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t')) ++at_;
  }
  bool eat(char c) {
    space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  Where here() const {
    Where w = origin_;
    w.column += static_cast<std::int64_t>(at_);
    return w;
  }
  [[noreturn]] void expected(std::string_view what) const {
    const std::string found =
        at_ < text_.size() ? fmt::format("'{}'", text_.substr(at_, 12)) : "the end";
    fail(here(), fmt::format("expected {}, found {}", what, found));
  }
  static bool starts_name(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  static bool in_name(char c) { return starts_name(c) || (c >= '0' && c <= '9') || c == '-'; }

  std::string_view text_;
  Where origin_;
  std::size_t at_ = 0;
};

}  // namespace detail

// The slot a policy's name puts it in when the specification names no slot: "skip", "uplink"
// or "server"; empty for a name that is no policy.
inline std::string_view slot_of(std::string_view name);

inline std::string detail::Parser::name() {
  space();
  if (at_ >= text_.size() || !starts_name(text_[at_])) expected("a name");
  std::string out;
  for (; at_ < text_.size() && in_name(text_[at_]); ++at_)
    out += text_[at_] == '-' ? '_' : text_[at_];
  return out;
}

inline Value detail::Parser::value() {
  space();
  Value v;
  v.where = here();
  if (eat('[')) {
    v.kind = Value::Kind::list;
    if (!eat(']')) {
      do v.items.push_back(value());
      while (eat(','));
      if (!eat(']')) expected("',' or ']'");
    }
    return v;
  }
  const auto number_char = [&](std::size_t i) {
    const char c = text_[i];
    return (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' ||
           ((c == 'e' || c == 'E') && i > 0);
  };
  const auto digit = [&](std::size_t i) {
    return i < text_.size() && ((text_[i] >= '0' && text_[i] <= '9') || text_[i] == '.');
  };
  if (digit(at_) ||
      (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-') && digit(at_ + 1))) {
    v.kind = Value::Kind::number;
    while (at_ < text_.size() && number_char(at_)) v.text += text_[at_++];
    return v;
  }
  v.text = name();
  if (eat('(') && !eat(')')) {
    do {
      Arg arg;
      space();
      const std::size_t start = at_;
      if (at_ < text_.size() && starts_name(text_[at_])) {
        std::string key = name();
        if (eat('=')) {
          arg.key = std::move(key);
        } else {
          at_ = start;  // a positional value that begins with a name
        }
      }
      arg.value = value();
      v.args.push_back(std::move(arg));
    } while (eat(','));
    if (!eat(')')) expected("',' or ')'");
  }
  return v;
}

inline MethodSpec detail::Parser::method() {
  MethodSpec spec;
  do {
    space();
    const Where at = here();
    const std::size_t start = at_;
    std::string slot;
    if (at_ < text_.size() && starts_name(text_[at_])) {
      std::string word = name();
      if (eat(':') || eat('=')) {
        slot = std::move(word);
      } else {
        at_ = start;
      }
    }
    Value v = value();
    if (slot.empty()) {
      slot = slot_of(v.text);
      if (slot.empty()) {
        fail(v.where, fmt::format("unknown policy '{}': {}", v.text,
                                  "not a skip rule, channel or server update (the names are in "
                                  "docs/running-experiments.md)"));
      }
    }
    std::optional<Value>* target = spec.slot(slot);
    if (target == nullptr) {
      fail(at, fmt::format("unknown slot '{}': must be {}", slot, MethodSpec::slots));
    }
    if (*target) {
      fail(at,
           fmt::format("a second {} ({}, after {}){}", slot, v.written(), (*target)->written(),
                       slot == "uplink" ? ": write down:NAME for a channel on the downlink" : ""));
    }
    *target = std::move(v);
  } while (eat('+'));
  end();
  return spec;
}

// Reads a method's specification from `text`; `origin` says where the text begins.
inline MethodSpec parse_method(std::string_view text, const Where& origin) {
  return detail::Parser(text, origin).method();
}

// Reads one value (for a slot given on its own, as an experiment file does).
inline Value parse_value(std::string_view text, const Where& origin) {
  return detail::Parser(text, origin).whole_value();
}

namespace detail {

// ---- The policies by name ------------------------------------------------------------------

template <class T>
struct Named {
  using type = T;
  std::string_view name;
};

inline constexpr std::tuple skip_rules{
    Named<skip::LagWk>{"lag_wk"},     Named<skip::LagPs>{"lag_ps"},
    Named<skip::Laq>{"laq"},          Named<skip::LasgWk1>{"lasg_wk1"},
    Named<skip::LasgWk2>{"lasg_wk2"}, Named<skip::LasgPs>{"lasg_ps"},
    Named<skip::LasgPse>{"lasg_pse"}, Named<skip::Never>{"never"}};
inline constexpr std::tuple compressors{Named<compress::Identity>{"identity"},
                                        Named<compress::Qsgd>{"qsgd"},
                                        Named<compress::TopK>{"top_k"},
                                        Named<compress::RandK>{"rand_k"},
                                        Named<compress::ScaledSign>{"scaled_sign"},
                                        Named<compress::Uniform>{"uniform"},
                                        Named<compress::Fp16>{"fp16"}};
// Channels that wrap a compressor: markov(C) and error_feedback(C).
inline constexpr std::string_view wrappers[] = {"markov", "error_feedback"};
inline constexpr std::tuple servers{Named<server::Sgd>{"sgd"},
                                    Named<server::PeriodicAverage>{"periodic_average"},
                                    Named<server::Amsgrad>{"amsgrad"}};

// Calls f(Named<T>) for the entry of `table` called `name`; false when there is none.
template <class Table, class F>
bool find(const Table& table, std::string_view name, F&& f) {
  return std::apply(
      [&](const auto&... entry) { return ((entry.name == name && (f(entry), true)) || ...); },
      table);
}
template <class Table>
std::string names_of(const Table& table) {
  return std::apply(
      [](const auto&... entry) {
        return fmt::format("{}",
                           fmt::join(std::initializer_list<std::string_view>{entry.name...}, ", "));
      },
      table);
}

// The Params of a policy from its call, checked by the policy's constructor (`check`), whose
// ParamError is reported at the argument that gave the parameter. `path` names the Params as
// the policies' checks do: "skip", "server", and a channel with its name ("uplink.top_k").
template <class P, class Check>
P checked_params(const Value& v, const std::string& slot, const std::string& path, Check&& check) {
  P params{};
  set_params(params, v, path);
  try {
    within(slot, [&] { check(params); });
  } catch (const ParamError& e) {
    Names names;
    params.fields(names);
    fail(locate(v, e.path(), names.fields), e.what());
  }
  return params;
}

// Channel L (a channel, or a compressor made one) from its call.
template <class L>
Channel::Params channel_of(const Value& v, const std::string& slot, const compress::Wire& wire) {
  return channel<L>(checked_params<typename L::Params>(
      v, slot, slot + "." + v.text,
      [&](const auto& p) { static_cast<void>(compress::channel_t<L>(p, wire)); }));
}

inline Channel::Params channel_from(const Value& v, const std::string& slot,
                                    const compress::Wire& wire) {
  Channel::Params out;
  const bool markov = v.text == "markov";
  if (markov || v.text == "error_feedback") {
    // The wrapped compressor is the first argument.
    const Value* inner = nullptr;
    for (std::size_t i = 0; i < v.args.size(); ++i) {
      if (v.args[i].key == "compressor" || (i == 0 && v.args[i].key.empty())) {
        inner = &v.args[i].value;
      }
    }
    if (inner == nullptr) {
      fail(v.where, fmt::format("{}.{} needs the compressor it wraps, e.g. {}(top_k(k=1))", slot,
                                v.text, v.text));
    }
    const bool known = find(compressors, inner->text, [&](auto entry) {
      using C = typename decltype(entry)::type;
      out = markov ? channel_of<compress::Markov<C>>(v, slot, wire)
                   : channel_of<compress::ErrorFeedback<C>>(v, slot, wire);
    });
    if (!known) {
      refuse(*inner, slot + "." + v.text + ".compressor",
             fmt::format("one of {}", names_of(compressors)));
    }
    return out;
  }
  const bool known = find(compressors, v.text, [&](auto entry) {
    out = channel_of<typename decltype(entry)::type>(v, slot, wire);
  });
  if (!known) {
    refuse(
        v, slot,
        fmt::format("a channel: one of {}, markov(C) or error_feedback(C)", names_of(compressors)));
  }
  return out;
}

inline SkipChoice skip_from(const Value& v) {
  SkipChoice out;
  const bool known = find(skip_rules, v.text, [&](auto entry) {
    using R = typename decltype(entry)::type;
    const auto params = checked_params<typename R::Params>(
        v, "skip", "skip", [](const auto& p) { static_cast<void>(R{p}); });
    if constexpr (R::side == skip::Side::none) {
      out = params;
    } else {
      out = rule<R>(params);
    }
  });
  if (!known) refuse(v, "skip", fmt::format("a skip rule: one of {}", names_of(skip_rules)));
  return out;
}

inline ServerChoice server_from(const Value& v, int& paper_index_bits) {
  ServerChoice out;
  const bool known = find(servers, v.text, [&](auto entry) {
    using U = typename decltype(entry)::type;
    out = checked_params<typename U::Params>(v, "server", "server",
                                             [](const auto& p) { static_cast<void>(U{p}); });
    paper_index_bits = default_paper_index_bits<U>();
  });
  if (!known) refuse(v, "server", fmt::format("a server update: one of {}", names_of(servers)));
  return out;
}

}  // namespace detail

inline std::string_view slot_of(std::string_view name) {
  const auto any = [](auto) {};
  if (detail::find(detail::skip_rules, name, any)) return "skip";
  if (detail::find(detail::servers, name, any)) return "server";
  if (detail::find(detail::compressors, name, any)) return "uplink";
  for (const std::string_view w : detail::wrappers) {
    if (w == name) return "uplink";
  }
  return {};
}

// The method a specification chooses, every policy checked as it is built.
inline Method build_method(const MethodSpec& spec) {
  Method method;
  int paper_index_bits = 0;
  if (spec.server) method.server = detail::server_from(*spec.server, paper_index_bits);
  if (spec.float_bits) detail::convert(method.float_bits, *spec.float_bits, "float_bits");
  if (spec.paper_index_bits) {
    detail::convert(paper_index_bits, *spec.paper_index_bits, "paper_index_bits");
    method.paper_index_bits = paper_index_bits;
  }
  const compress::Wire wire{.float_bits = method.float_bits, .paper_index_bits = paper_index_bits};
  try {
    wire.validate();
  } catch (const ParamError& e) {
    // Only a value given can be invalid: the defaults are valid.
    fail((e.path() == "float_bits" ? spec.float_bits : spec.paper_index_bits).value().where,
         e.what());
  }
  if (spec.skip) {
    method.skip = detail::skip_from(*spec.skip);
    try {
      visit(method, [](const auto&) {});  // refuses a skip rule with local steps
    } catch (const ParamError& e) {
      fail(spec.skip->where, e.what());
    }
  }
  if (spec.uplink) method.uplink = detail::channel_from(*spec.uplink, "uplink", wire);
  if (spec.downlink) method.downlink = detail::channel_from(*spec.downlink, "downlink", wire);
  return method;
}

// The method `text` specifies (parse_method, then build_method).
inline Method read_method(std::string_view text, const Where& origin) {
  return build_method(parse_method(text, origin));
}

}  // namespace laconic::runtime
