#pragma once

// Parameters set and written by name, through the fields() each Params lists (the one list of
// its parameters): the values a method specification (runtime/spec.hpp) or an experiment file
// (runtime/experiment.hpp) gives — numbers, names, calls, lists and strings, each with where
// it was written — set a Params' fields by name or in order, with every mistake refused as a
// ParseError naming where, the parameter's whole path, the value and what is allowed; and a
// Params written back as a specification writes it (its defaults, for --list).
//
// A Params lists its fields as
//   template <class V> void fields(V&& v) {
//     v("levels", levels);                                    // a number, bool, string, list
//     v("encoding", encoding, {"fixed", "elias", ...});       // an enumeration, by name
//     v.kind(kind, {{"constant", {"eta"}}, ...}, Kind::constant);  // a kind and its fields
//   }

#include <laconic/core/errors.hpp>

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

}  // namespace detail

}  // namespace laconic::runtime
