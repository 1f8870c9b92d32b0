#pragma once

// Methods chosen by name: a short specification such as
//   lasg-wk2(D=50) + qsgd(levels=7) + sgd(step=0.1, batch=32)
// read into a runtime::Method (runtime/method.hpp). Each `+` item is a policy, put in its slot
// by its name — a skip rule, a channel (the uplink; `down:` puts one on the downlink) or a
// server update — or a setting of the links, `float_bits=32`. A policy's arguments set its
// Params by name (each Params lists its fields(): the one list of its parameters), or in the
// order of that list. A value is a number, a name, a call `name(arguments)` or a list `[...]`.
// Every mistake is refused with where it was written (a ParseError: source, line, column),
// the parameter's whole path, the value and what is allowed; a value the policy's own checks
// refuse is reported at the argument that gave it. docs/running-experiments.md describes the
// grammar and every name.
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
#include <laconic/runtime/method.hpp>
#include <laconic/skip/lag.hpp>
#include <laconic/skip/laq.hpp>
#include <laconic/skip/lasg.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::runtime {

// Where a piece of a specification was written, for the messages that point at it.
struct Where {
  std::string source;  // a file, or what the text came from ("--method")
  std::int64_t line = 1;
  std::int64_t column = 1;
};

[[noreturn]] inline void fail(const Where& where, const std::string& what) {
  throw ParseError(where.source, where.line, where.column, what);
}

struct Arg;

// A value of a specification: a number (kept as written, read as its parameter's type), a
// name with its arguments (none, or in parentheses), a list, or a quoted string (from an
// experiment file).
struct Value {
  enum class Kind { number, name, list, string };
  Kind kind = Kind::name;
  std::string text;          // the number, the name with '-' read as '_', or the string
  std::vector<Arg> args;     // a name's arguments
  std::vector<Value> items;  // a list's values
  Where where;

  // The value as a person would write it, for messages.
  std::string written() const;
  // A name without arguments, or a string: what a word-valued parameter accepts.
  const std::string* word() const {
    return (kind == Kind::name && args.empty()) || kind == Kind::string ? &text : nullptr;
  }
};

// An argument: `key=value`, or a value in the order of its policy's parameters (key empty).
struct Arg {
  std::string key;
  Value value;
};

inline std::string Value::written() const {
  if (kind == Kind::number) return text;
  if (kind == Kind::string) return fmt::format("\"{}\"", text);
  std::vector<std::string> parts;
  if (kind == Kind::list) {
    for (const Value& v : items) parts.push_back(v.written());
    return fmt::format("[{}]", fmt::join(parts, ", "));
  }
  if (args.empty()) return text;
  for (const Arg& a : args) {
    parts.push_back(a.key.empty() ? a.value.written() : a.key + "=" + a.value.written());
  }
  return fmt::format("{}({})", text, fmt::join(parts, ", "));
}

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

// ---- Setting a Params from a call's arguments, through its fields() ------------------------

[[noreturn]] inline void refuse(const Value& v, const std::string& path, std::string_view allowed) {
  fail(v.where, fmt::format("invalid parameter {} = {}: must be {}", path, v.written(), allowed));
}

// One kind of a struct with kinds (StepSize, Batch, Participation): its name and the fields
// it reads, in order.
struct KindSpec {
  std::string_view name;
  std::initializer_list<std::string_view> fields;
};

template <class T>
void convert(T& field, const Value& v, const std::string& path);

// The names of a Params' fields, in order, and its kinds, if it has any.
struct Names {
  std::vector<std::string_view> fields;
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kinds;
  int shorthand = -1;  // the kind a bare number chooses

  template <class T>
  void operator()(std::string_view name, T&) {
    fields.push_back(name);
  }
  template <class E>
  void operator()(std::string_view name, E&, std::initializer_list<std::string_view>) {
    fields.push_back(name);
  }
  template <class E>
  void kind(E&, std::initializer_list<KindSpec> table, E shorthand_kind) {
    for (const KindSpec& k : table) kinds.push_back({k.name, {k.fields.begin(), k.fields.end()}});
    shorthand = static_cast<int>(shorthand_kind);
  }
};

// Sets the field called `key` from `value`; `found` says whether there is one.
struct Set {
  std::string_view key;
  const Value& value;
  const std::string& path;  // the field's
  int chosen_kind = -1;     // ≥ 0: set the kind to this one
  bool found = false;

  template <class T>
  void operator()(std::string_view name, T& field) {
    if (name != key) return;
    found = true;
    convert(field, value, path);
  }
  template <class E>
  void operator()(std::string_view name, E& field, std::initializer_list<std::string_view> names) {
    if (name != key) return;
    found = true;
    if (const std::string* w = value.word()) {
      int i = 0;
      for (const std::string_view n : names) {
        if (n == *w) {
          field = static_cast<E>(i);
          return;
        }
        ++i;
      }
    }
    refuse(value, path, fmt::format("one of {}", fmt::join(names, ", ")));
  }
  template <class E>
  void kind(E& field, std::initializer_list<KindSpec>, E) {
    if (chosen_kind >= 0) field = static_cast<E>(chosen_kind);
  }
};

template <class T>
concept HasFields = requires(T& t, Names& n) {
  t.fields(n);
};

// Sets fields of `params` from the arguments `args` of `call` (keyed, or in the order of
// `order`); `allowed` names the fields for messages.
template <class P>
void set_fields(P& params, const Value& call, const std::vector<std::string_view>& order,
                const std::string& path) {
  std::vector<std::string_view> given;
  for (std::size_t i = 0; i < call.args.size(); ++i) {
    const Arg& arg = call.args[i];
    const std::string_view key =
        arg.key.empty() && i < order.size() ? order[i] : std::string_view(arg.key);
    const std::string allowed = order.empty()
                                    ? std::string("no parameters")
                                    : fmt::format("its parameters are {}", fmt::join(order, ", "));
    if (key.empty()) {
      fail(arg.value.where, fmt::format("{} takes at most {} values in order ({}): {} is one too "
                                        "many",
                                        path, order.size(), allowed, arg.value.written()));
    }
    for (const std::string_view g : given) {
      if (g == key) fail(arg.value.where, fmt::format("{}.{} is given twice", path, key));
    }
    given.push_back(key);
    const std::string field_path = fmt::format("{}.{}", path, key);
    Set set{key, arg.value, field_path};
    bool known = false;
    for (const std::string_view o : order) known = known || o == key;
    if (known) params.fields(set);
    if (!set.found) {
      fail(arg.value.where, fmt::format("unknown parameter {}: {}", field_path, allowed));
    }
  }
}

// A Params (or nested struct) from a call: its arguments set its fields by name or in order.
template <HasFields P>
void set_params(P& params, const Value& v, const std::string& path) {
  Names names;
  params.fields(names);
  if (names.kinds.empty()) {
    if (v.kind != Value::Kind::name) refuse(v, path, "a name with its parameters");
    set_fields(params, v, names.fields, path);
    return;
  }
  // A struct with kinds: a bare number is the shorthand kind's first parameter, else the
  // kind's name with the parameters that kind reads.
  int kind = -1;
  if (v.kind == Value::Kind::number) {
    kind = names.shorthand;
  } else if (v.kind == Value::Kind::name) {
    for (std::size_t i = 0; i < names.kinds.size(); ++i) {
      if (names.kinds[i].first == v.text) kind = static_cast<int>(i);
    }
  }
  std::vector<std::string_view> kind_names;
  for (const auto& k : names.kinds) kind_names.push_back(k.first);
  if (kind < 0) {
    refuse(v, path,
           fmt::format("a number or one of {} (with its parameters)", fmt::join(kind_names, ", ")));
  }
  const auto& [kind_name, order] = names.kinds[static_cast<std::size_t>(kind)];
  const Value dummy{};
  Set choose{"", dummy, path, kind};
  params.fields(choose);
  if (v.kind == Value::Kind::number) {
    Value call;
    call.text = kind_name;
    call.where = v.where;
    call.args.push_back({"", v});
    set_fields(params, call, order, path);
  } else {
    set_fields(params, v, order, path);
  }
}

// ---- Reading one value as its field's type -------------------------------------------------

template <std::integral T>
void convert_integer(T& field, const Value& v, const std::string& path) {
  if (v.kind == Value::Kind::number) {
    const char* first = v.text.data() + (v.text.starts_with('+') ? 1 : 0);
    const char* last = v.text.data() + v.text.size();
    T out{};
    const auto [end, ec] = std::from_chars(first, last, out);
    if (ec == std::errc() && end == last) {
      field = out;
      return;
    }
    const bool negative = std::is_unsigned_v<T> && first < last && *first == '-';
    if (ec == std::errc::result_out_of_range || negative) {
      refuse(v, path,
             fmt::format("an integer in [{}, {}]", std::numeric_limits<T>::min(),
                         std::numeric_limits<T>::max()));
    }
  }
  refuse(v, path, "an integer");
}

inline void convert_double(double& field, const Value& v, const std::string& path) {
  if (v.kind == Value::Kind::number) {
    const char* first = v.text.data() + (v.text.starts_with('+') ? 1 : 0);
    const char* last = v.text.data() + v.text.size();
    const auto [end, ec] = std::from_chars(first, last, field);
    if (ec == std::errc() && end == last) return;
  }
  refuse(v, path, "a number");
}

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
void convert(T& field, const Value& v, const std::string& path) {
  const std::string* word = v.word();
  if constexpr (std::is_same_v<T, bool>) {
    if (word && (*word == "true" || *word == "false")) {
      field = *word == "true";
      return;
    }
    refuse(v, path, "true or false");
  } else if constexpr (std::is_integral_v<T>) {
    convert_integer(field, v, path);
  } else if constexpr (std::is_same_v<T, double>) {
    convert_double(field, v, path);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!word) refuse(v, path, "a string");
    field = *word;
  } else if constexpr (std::is_same_v<T, std::optional<double>>) {
    if (word && *word == "auto") {
      field.reset();  // the rule's default
      return;
    }
    if (v.kind != Value::Kind::number) refuse(v, path, "a number, or auto for the default");
    convert_double(field.emplace(), v, path);
  } else if constexpr (IsVector<T>::value) {
    if (v.kind != Value::Kind::list) refuse(v, path, "a list, e.g. [1, 2]");
    field.assign(v.items.size(), typename T::value_type{});
    for (std::size_t i = 0; i < v.items.size(); ++i) {
      convert(field[i], v.items[i], fmt::format("{}[{}]", path, i));
    }
  } else {
    static_assert(HasFields<T>, "a field of a type runtime/spec.hpp cannot read");
    set_params(field, v, path);
  }
}

// ---- Writing parameters as a specification does ---------------------------------------------

template <class T>
std::string written(const T& value, std::vector<std::string>* choices = nullptr);

// Each field as `key=value`, and the choices of each enumeration and kind.
struct Writer {
  std::vector<std::string> parts{};
  std::vector<std::string>* choices = nullptr;
  std::vector<std::string_view> only{};  // when not empty: these fields only
  int chosen_kind = -1;
  std::vector<std::string_view> kind_fields{};

  bool shown(std::string_view name) const {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  }
  template <class T>
  void operator()(std::string_view name, T& field) {
    if (!shown(name)) return;
    std::vector<std::string> inner;  // a kind's choices, named after this field
    parts.push_back(fmt::format("{}={}", name, written(field, choices ? &inner : nullptr)));
    for (const std::string& c : inner) choices->push_back(fmt::format("{}: {}", name, c));
  }
  template <class E>
  void operator()(std::string_view name, E& field, std::initializer_list<std::string_view> names) {
    if (!shown(name)) return;
    parts.push_back(fmt::format("{}={}", name, names.begin()[static_cast<int>(field)]));
    if (choices) choices->push_back(fmt::format("{}: {}", name, fmt::join(names, ", ")));
  }
  template <class E>
  void kind(E& field, std::initializer_list<KindSpec> kinds, E) {
    chosen_kind = static_cast<int>(field);
    const KindSpec& k = kinds.begin()[chosen_kind];
    kind_fields.assign(k.fields.begin(), k.fields.end());
    if (choices) {
      std::vector<std::string> all;
      for (const KindSpec& c : kinds) {
        all.push_back(c.fields.size() == 0
                          ? std::string(c.name)
                          : fmt::format("{}({})", c.name, fmt::join(c.fields, ", ")));
      }
      choices->push_back(fmt::format("{}", fmt::join(all, ", ")));
    }
  }
};

// A parameter's value as a specification writes it; `choices`, when given, collects what its
// enumerations and kinds may be.
template <class T>
std::string written(const T& value, std::vector<std::string>* choices) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return fmt::format("\"{}\"", value);
  } else if constexpr (std::is_same_v<T, std::optional<double>>) {
    return value ? fmt::format("{}", *value) : std::string("auto");
  } else if constexpr (IsVector<T>::value) {
    std::vector<std::string> items;
    for (const auto& item : value) items.push_back(written(item));
    return fmt::format("[{}]", fmt::join(items, ", "));
  } else if constexpr (HasFields<T>) {
    T copy = value;  // fields() visits mutable fields
    Names names;
    copy.fields(names);
    if (names.kinds.empty()) {
      Writer w{.choices = choices};
      copy.fields(w);
      return fmt::format("({})", fmt::join(w.parts, ", "));
    }
    Writer kind{.choices = choices, .only = {""}};  // the kind and its fields only
    copy.fields(kind);
    Writer w{.choices = nullptr, .only = kind.kind_fields};
    if (!w.only.empty()) copy.fields(w);
    const std::string_view name = names.kinds[static_cast<std::size_t>(kind.chosen_kind)].first;
    return w.parts.empty() ? std::string(name)
                           : fmt::format("{}({})", name, fmt::join(w.parts, ", "));
  } else {
    return fmt::format("{}", value);
  }
}

// A policy named `name` with the defaults of its Params, e.g. qsgd(levels=1, encoding=cheaper),
// then a line for the choices of each enumeration or kind.
template <class P>
std::string policy_line(std::string_view name, std::vector<std::string_view> skip = {}) {
  P params{};
  std::vector<std::string> choices;
  Writer w{.choices = &choices};
  params.fields(w);
  std::erase_if(w.parts, [&](const std::string& part) {
    return std::any_of(skip.begin(), skip.end(),
                       [&](std::string_view s) { return part.starts_with(std::string(s) + "="); });
  });
  std::string line = w.parts.empty() ? fmt::format("  {}\n", name)
                                     : fmt::format("  {}({})\n", name, fmt::join(w.parts, ", "));
  for (const std::string& c : choices) line += fmt::format("      {}\n", c);
  return line;
}

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

// Where the parameter at `path` ("uplink.top_k.k", "server.step.eta") was given in call v,
// whose values in order are the fields `order`: the deepest argument along the path, or the
// call itself.
inline const Where& locate(const Value& v, std::string_view path,
                           const std::vector<std::string_view>& order) {
  const Value* at = &v;
  for (std::size_t dot = path.find('.'); dot != std::string_view::npos;) {  // after the slot
    const std::size_t next = path.find('.', dot + 1);
    const std::string_view part = path.substr(dot + 1, next - dot - 1);
    dot = next;
    if (part == at->text) continue;  // a policy naming its own parameters
    const Value* inner = nullptr;
    for (std::size_t i = 0; i < at->args.size(); ++i) {
      const Arg& arg = at->args[i];
      const bool in_order = arg.key.empty() && at == &v && i < order.size() && order[i] == part;
      const bool named = arg.key.empty() && arg.value.text == part;  // markov(top_k(...))
      if (arg.key == part || in_order || named) inner = &arg.value;
    }
    if (inner == nullptr) break;
    at = inner;
  }
  return at->where;
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
