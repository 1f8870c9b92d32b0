#pragma once

// Simulated wall-clock time of a round (FedPAQ §5; docs/simulation.md). A participant m that
// evaluates s per-sample gradients computes for s·shift_m + Exp(mean s·exp_mean_m), drawn from
// the (seed, cost, round, worker) stream; a message of b bits takes b / bandwidth_m + latency_m
// in its direction. Every worker has the model's parameters (the default), or its own device:
// the model's compute time and bandwidths scaled by log-normal factors of mean 1, or a row of a
// trace file. The round then lasts, with
//   parallel links (every worker its own):  until the last participant's download + compute +
//                                           upload has arrived (+ the aggregate's broadcast
//                                           afterwards, for CD-Adam's shape) — or, with a
//                                           deadline, until then at most; with over-selection
//                                           (keep = r), until the r-th has arrived. Uploads
//                                           arriving later are dropped;
//   one shared link (FedPAQ's base station): the broadcast once, the slowest computation,
//                                           then every upload one after the other.
// Workers may be offline (Availability): a round's participants are drawn among the workers
// online when it starts. Times are in whatever unit shift, exp_mean, 1/bandwidth and latency
// share. All zero (the default) leaves time at 0.

#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/trace.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace laconic::sim {

inline constexpr double infinite_time = std::numeric_limits<double>::infinity();

// One worker's device: the cost model's parameters as they hold for it.
struct Device {
  double shift = 0;
  double exp_mean = 0;
  double bandwidth_up = infinite_time;
  double bandwidth_down = infinite_time;
  double latency = 0;

  double compute(std::uint64_t seed, Index round, Index worker, std::uint64_t samples) const {
    const auto s = static_cast<double>(samples);
    double t = s * shift;
    if (exp_mean > 0 && samples > 0) {
      RandomStream rng(seed, Purpose::cost, static_cast<std::uint64_t>(round),
                       static_cast<std::uint64_t>(worker));
      t += rng.exponential(s * exp_mean);
    }
    return t;
  }
  double upload(const Bits& bits) const {
    return static_cast<double>(bits.total()) / bandwidth_up + latency;
  }
  double download(const Bits& bits) const {
    return static_cast<double>(bits.total()) / bandwidth_down + latency;
  }
};

// How devices differ between workers: not at all (the default); by log-normal factors of
// mean 1 — worker m's compute time per sample (shift and exp_mean) times
// exp(σ_c Z − σ_c²/2), its two bandwidths times exp(σ_b Z' − σ_b²/2), Z, Z' standard normal
// from the (seed, device, m) stream; or as a trace file lists them, one row per worker
// (worker m takes row m mod rows), in columns named as the model's parameters — shift,
// exp_mean, bandwidth_up, bandwidth_down, latency — any of them; a column not given keeps
// the model's value.
struct Devices {
  double compute_sigma = 0;
  double bandwidth_sigma = 0;
  std::string trace{};

  template <class V>
  void fields(V&& v) {
    v("compute_sigma", compute_sigma);
    v("bandwidth_sigma", bandwidth_sigma);
    v("trace", trace);
  }
  void validate() const {
    require_param(std::isfinite(compute_sigma) && compute_sigma >= 0 && compute_sigma <= 10,
                  "cost.devices.compute_sigma", compute_sigma, "in [0, 10]");
    require_param(std::isfinite(bandwidth_sigma) && bandwidth_sigma >= 0 && bandwidth_sigma <= 10,
                  "cost.devices.bandwidth_sigma", bandwidth_sigma, "in [0, 10]");
    if (!trace.empty()) {
      require_param(compute_sigma == 0 && bandwidth_sigma == 0, "cost.devices.trace", trace,
                    "unset when a sigma is given (devices from a distribution or a trace)");
    }
  }
  bool same() const { return compute_sigma == 0 && bandwidth_sigma == 0 && trace.empty(); }
  std::string describe() const {
    return trace.empty() ? fmt::format("devices=lognormal(compute_sigma={}, bandwidth_sigma={})",
                                       compute_sigma, bandwidth_sigma)
                         : fmt::format("devices=trace({})", trace);
  }
};

// When workers are online: always (the default); a day-like cycle — online for the fraction
// `online` of every `period`, each worker at its own phase drawn from the (seed, device, m)
// stream; or the windows a trace file lists, in columns worker, start, end (a worker online
// in [start, end); one row per window; a worker the trace does not name is always online).
struct Availability {
  double period = 0;
  double online = 1;
  std::string trace{};

  template <class V>
  void fields(V&& v) {
    v("period", period);
    v("online", online);
    v("trace", trace);
  }
  void validate() const {
    require_param(online > 0 && online <= 1, "cost.availability.online", online, "in (0, 1]");
    if (online < 1) {
      require_param(std::isfinite(period) && period > 0, "cost.availability.period", period,
                    "> 0 and finite when online < 1 (the length of the on/off cycle)");
      require_param(trace.empty(), "cost.availability.trace", trace,
                    "unset when online < 1 (a cycle or a trace)");
    } else {
      require_param(std::isfinite(period) && period >= 0, "cost.availability.period", period,
                    ">= 0 and finite");
    }
  }
  bool always() const { return online == 1 && trace.empty(); }
  std::string describe() const {
    return trace.empty() ? fmt::format("availability=cycle(period={}, online={})", period, online)
                         : fmt::format("availability=trace({})", trace);
  }
};

struct CostModel {
  enum class Links { parallel, shared };
  double shift = 0;                     // deterministic compute time per sample gradient
  double exp_mean = 0;                  // mean of the exponential compute time per sample gradient
  double bandwidth_up = infinite_time;  // bits per time unit
  double bandwidth_down = infinite_time;  // bits per time unit
  double latency = 0;                     // per message
  Links links = Links::parallel;
  Devices devices{};
  Availability availability{};
  // The server stops waiting this long after a round starts; later uploads are dropped
  // (parallel links). Infinite: wait for every participant.
  double deadline = infinite_time;
  // Over-selection: of the participants, the first `keep` to arrive count and the rest are
  // dropped (parallel links). 0: all.
  Index keep = 0;

  // Each parameter by name, for experiments chosen at run time (runtime/experiment.hpp).
  template <class V>
  void fields(V&& v) {
    v("shift", shift);
    v("exp_mean", exp_mean);
    v("bandwidth_up", bandwidth_up);
    v("bandwidth_down", bandwidth_down);
    v("latency", latency);
    v("links", links, {"parallel", "shared"});
    v("devices", devices);
    v("availability", availability);
    v("deadline", deadline);
    v("keep", keep);
  }

  void validate() const {
    auto non_negative = [](std::string_view name, double v) {
      require_param(std::isfinite(v) && v >= 0, name, v, ">= 0 and finite");
    };
    non_negative("cost.shift", shift);
    non_negative("cost.exp_mean", exp_mean);
    non_negative("cost.latency", latency);
    require_param(bandwidth_up > 0, "cost.bandwidth_up", bandwidth_up, "> 0 (may be infinite)");
    require_param(bandwidth_down > 0, "cost.bandwidth_down", bandwidth_down,
                  "> 0 (may be infinite)");
    const int l = static_cast<int>(links);
    require_param(l == 0 || l == 1, "cost.links", l, "parallel or shared");
    devices.validate();
    availability.validate();
    require_param(deadline > 0, "cost.deadline", deadline, "> 0 (infinite: no deadline)");
    require_param(keep >= 0, "cost.keep", keep, ">= 0 (0: every participant counts)");
    if (drops()) {
      require_param(links == Links::parallel, "cost.links", "shared",
                    "parallel under a deadline or over-selection (on one shared link the order "
                    "of the uploads would decide who is late, which the model does not say)");
    }
  }

  // Whether the server may drop uploads (a deadline or over-selection).
  bool drops() const { return deadline < infinite_time || keep > 0; }
  // Whether some participants may not count: dropped, or offline when drawn.
  bool partial() const { return drops() || !availability.always(); }

  // The model's own device, which every worker has unless `devices` says otherwise.
  Device device() const { return {shift, exp_mean, bandwidth_up, bandwidth_down, latency}; }
  double compute(std::uint64_t seed, Index round, Index worker, std::uint64_t samples) const {
    return device().compute(seed, round, worker, samples);
  }
  double upload(const Bits& bits) const { return device().upload(bits); }
  double download(const Bits& bits) const { return device().download(bits); }

  // The CSV header's account of the model; the parts beyond the homogeneous model of FedPAQ
  // §5 only when set.
  std::string describe() const {
    std::string out = fmt::format(
        "cost(shift={}, exp_mean={}, bandwidth_up={}, bandwidth_down={}, latency={}, links={}",
        shift, exp_mean, bandwidth_up, bandwidth_down, latency,
        links == Links::parallel ? "parallel" : "shared");
    if (!devices.same()) out += ", " + devices.describe();
    if (!availability.always()) out += ", " + availability.describe();
    if (deadline < infinite_time) out += fmt::format(", deadline={}", deadline);
    if (keep > 0) out += fmt::format(", keep={}", keep);
    return out + ")";
  }
};

// One participant's part of a round's time.
struct Leg {
  double down = 0;
  double compute = 0;
  double up = 0;
  double arrival() const { return down + compute + up; }
};

// The cost model resolved for a run's workers: each one's device and when it is online, and
// the length of a round from its participants' legs.
class Clock {
 public:
  Clock() = default;
  Clock(const CostModel& model, Index workers, std::uint64_t seed)
      : model_(model), common_(model.device()), workers_(workers) {
    resolve_devices(seed);
    resolve_availability(seed);
    order_.reserve(static_cast<std::size_t>(workers));
  }

  const Device& device(Index m) const {
    return devices_.empty() ? common_ : devices_[static_cast<std::size_t>(m)];
  }

  // Whether worker m is online at time t.
  bool online(Index m, double t) const {
    if (!phase_.empty()) return cycle_position(m, t) < model_.availability.online;
    if (first_window_.empty()) return true;
    const auto [first, last] = window_range(m);
    if (first == last) return true;  // not in the trace
    for (auto w = first; w != last; ++w) {
      if (w->start <= t && t < w->end) return true;
    }
    return false;
  }
  // The first time ≥ t at which some worker is online; infinite if none ever is again.
  double next_online(double t) const {
    double next = infinite_time;
    for (Index m = 0; m < workers_; ++m) {
      if (online(m, t)) return t;
      if (!phase_.empty()) {
        next = std::min(next, t + (1 - cycle_position(m, t)) * model_.availability.period);
      } else {
        const auto [first, last] = window_range(m);
        for (auto w = first; w != last; ++w) {
          if (w->start >= t) next = std::min(next, w->start);
        }
      }
    }
    return next;
  }

  // The time the last of all workers takes to receive a message (a broadcast to every one).
  double slowest_download(const Bits& bits) const {
    double slowest = common_.download(bits);
    if (!devices_.empty()) {
      slowest = 0;
      for (const Device& d : devices_) slowest = std::max(slowest, d.download(bits));
    }
    return slowest;
  }

  // Whether an upload that took `leg` counts, when that is known as it arrives: always, unless
  // the server keeps the first r (then round() decides once all have arrived).
  bool counts_on_arrival(const Leg& leg) const {
    return model_.keep > 0 || leg.arrival() <= model_.deadline;
  }

  // The length of a round whose participants (in order) took `legs`, and its parts added to
  // `parts` (TimeParts: of the average counted participant). Marks in `counts` (one per leg)
  // the uploads the server keeps.
  double round(std::span<const Leg> legs, std::span<char> counts, TimeParts& parts) {
    const std::size_t n = legs.size();
    std::fill(counts.begin(), counts.end(), 1);
    double seconds = 0;
    TimeParts mean;
    if (model_.links == CostModel::Links::shared) {
      double broadcast = 0, slowest = 0, uploads = 0;
      for (const Leg& l : legs) {
        broadcast = std::max(broadcast, l.down);
        slowest = std::max(slowest, l.compute);
        uploads += l.up;
        mean.compute += l.compute;
      }
      seconds = broadcast + slowest + uploads;
      if (n > 0) mean.compute /= static_cast<double>(n);
      mean.down = broadcast;
      mean.up = uploads;
      mean.wait = slowest - mean.compute;
    } else {
      if (model_.drops()) {
        seconds = keep_first(legs, counts);
      } else {
        for (const Leg& l : legs) seconds = std::max(seconds, l.arrival());
      }
      std::size_t counted = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (!counts[i]) continue;
        ++counted;
        mean.down += legs[i].down;
        mean.compute += legs[i].compute;
        mean.up += legs[i].up;
      }
      if (counted > 0) {
        const auto c = static_cast<double>(counted);
        mean.down /= c;
        mean.compute /= c;
        mean.up /= c;
      }
      mean.wait = seconds - (mean.down + mean.compute + mean.up);
    }
    parts += mean;
    return seconds;
  }

 private:
  struct Window {
    Index worker;
    double start, end;
  };
  using Windows = std::vector<Window>::const_iterator;

  // Deadline and over-selection: the server waits until the keep-th arrival (all
  // participants' when keep is 0) or the deadline, whichever is first, and counts the uploads
  // that arrived by then, at most `keep` (ties go to the lower participant). O(n).
  double keep_first(std::span<const Leg> legs, std::span<char> counts) {
    const std::size_t n = legs.size();
    if (n == 0) return 0;
    const std::size_t wanted =
        model_.keep > 0 ? std::min(n, static_cast<std::size_t>(model_.keep)) : n;
    double last = 0;  // the wanted-th arrival, and (ties) the participant it is
    std::size_t last_index = n - 1;
    if (wanted == n) {
      for (const Leg& l : legs) last = std::max(last, l.arrival());
    } else {
      order_.clear();
      for (std::size_t i = 0; i < n; ++i) order_.emplace_back(legs[i].arrival(), i);
      std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(wanted - 1),
                       order_.end());
      std::tie(last, last_index) = order_[wanted - 1];
    }
    const double seconds = std::min(model_.deadline, last);
    for (std::size_t i = 0; i < n; ++i) {
      const double a = legs[i].arrival();
      counts[i] = a <= seconds && (a < last || (a == last && i <= last_index)) ? 1 : 0;
    }
    return seconds;
  }

  // Where worker m is in its on/off cycle at time t, in [0, 1): online below `online`.
  double cycle_position(Index m, double t) const {
    const double x = t / model_.availability.period + phase_[static_cast<std::size_t>(m)];
    return x - std::floor(x);
  }

  std::pair<Windows, Windows> window_range(Index m) const {
    const auto i = static_cast<std::size_t>(m);
    return {windows_.begin() + first_window_[i], windows_.begin() + first_window_[i + 1]};
  }

  void resolve_devices(std::uint64_t seed) {
    const Devices& d = model_.devices;
    if (d.same()) return;
    devices_.assign(static_cast<std::size_t>(workers_), common_);
    if (d.trace.empty()) {
      for (Index m = 0; m < workers_; ++m) {
        RandomStream rng(seed, Purpose::device, static_cast<std::uint64_t>(m), 0);
        const double c = d.compute_sigma, b = d.bandwidth_sigma;
        const double compute = std::exp(c * rng.normal() - c * c / 2);
        const double bandwidth = std::exp(b * rng.normal() - b * b / 2);
        Device& device = devices_[static_cast<std::size_t>(m)];
        device.shift *= compute;
        device.exp_mean *= compute;
        device.bandwidth_up *= bandwidth;
        device.bandwidth_down *= bandwidth;
      }
      return;
    }
    const auto non_negative = [](double v) { return std::isfinite(v) && v >= 0; };
    const auto positive = [](double v) { return v > 0; };
    const Trace trace =
        read_trace(d.trace, {{"shift", false, non_negative, ">= 0 and finite"},
                             {"exp_mean", false, non_negative, ">= 0 and finite"},
                             {"bandwidth_up", false, positive, "> 0 (may be inf)"},
                             {"bandwidth_down", false, positive, "> 0 (may be inf)"},
                             {"latency", false, non_negative, ">= 0 and finite"}});
    const std::pair<const char*, double Device::*> columns[] = {
        {"shift", &Device::shift},
        {"exp_mean", &Device::exp_mean},
        {"bandwidth_up", &Device::bandwidth_up},
        {"bandwidth_down", &Device::bandwidth_down},
        {"latency", &Device::latency}};
    for (Index m = 0; m < workers_; ++m) {
      const std::vector<double>& row =
          trace.rows[static_cast<std::size_t>(m) % trace.rows.size()].values;
      for (const auto& [name, field] : columns) {
        const int c = trace.column(name);
        if (c >= 0) devices_[static_cast<std::size_t>(m)].*field = row[static_cast<std::size_t>(c)];
      }
    }
  }

  void resolve_availability(std::uint64_t seed) {
    const Availability& a = model_.availability;
    if (a.always()) return;
    if (a.trace.empty()) {
      phase_.resize(static_cast<std::size_t>(workers_));
      for (Index m = 0; m < workers_; ++m) {
        RandomStream rng(seed, Purpose::device, static_cast<std::uint64_t>(m), 1);
        phase_[static_cast<std::size_t>(m)] = rng.uniform();
      }
      return;
    }
    const auto worker = [](double v) { return v >= 0 && v < 9.0e15 && v == std::floor(v); };
    const auto time = [](double v) { return std::isfinite(v); };
    const Trace trace = read_trace(a.trace, {{"worker", true, worker, "a worker's index, >= 0"},
                                             {"start", true, time, "finite"},
                                             {"end", true, time, "finite"}});
    const auto w = static_cast<std::size_t>(trace.column("worker"));
    const auto s = static_cast<std::size_t>(trace.column("start"));
    const auto e = static_cast<std::size_t>(trace.column("end"));
    for (const Trace::Row& r : trace.rows) {
      const std::vector<double>& row = r.values;
      if (!(row[s] < row[e])) {
        throw ParseError(trace.file, r.line, r.columns[e],
                         fmt::format("end is {}, allowed: after start ({})", row[e], row[s]));
      }
      const auto m = static_cast<Index>(row[w]);
      if (m < workers_) windows_.push_back({m, row[s], row[e]});
    }
    std::stable_sort(windows_.begin(), windows_.end(),
                     [](const Window& a, const Window& b) { return a.worker < b.worker; });
    // Worker m's windows are windows_[first_window_[m] .. first_window_[m + 1]).
    first_window_.assign(static_cast<std::size_t>(workers_) + 1, 0);
    for (const Window& window : windows_)
      ++first_window_[static_cast<std::size_t>(window.worker) + 1];
    for (std::size_t m = 0; m < static_cast<std::size_t>(workers_); ++m) {
      first_window_[m + 1] += first_window_[m];
    }
  }

  CostModel model_{};
  Device common_{};
  Index workers_ = 0;
  std::vector<Device> devices_;               // empty: every worker has common_
  std::vector<double> phase_;                 // the cycle's phase of each worker, in [0, 1)
  std::vector<Window> windows_;               // a trace's online windows, by worker
  std::vector<std::ptrdiff_t> first_window_;  // where each worker's begin (empty: no trace)
  std::vector<std::pair<double, std::size_t>> order_;  // keep_first()'s scratch
};

}  // namespace laconic::sim
