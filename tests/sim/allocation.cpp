// No heap allocation inside a round after the first, for every named method: the test binary
// interposes glibc's malloc family (operator new and Eigen both allocate through them) and
// counts the calls made while rounds run. AddressSanitizer replaces malloc itself, so under
// it the test skips.

#include <laconic/compress/top_k.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#define LACONIC_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LACONIC_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef LACONIC_COUNT_ALLOCATIONS
#define LACONIC_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
[[maybe_unused]] void count() {  // unused under ASan
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
}
}  // namespace

#if LACONIC_COUNT_ALLOCATIONS
// glibc's own entry points, which the definitions below forward to.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t size) {
  count();
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  count();
  return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  count();
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

using namespace laconic;

namespace {

constexpr Index M = 6, n = 240, p = 12, rounds = 12;

// Allocations during rounds 3..rounds-1 of a run (round 1 and 2 may size scratch; the last
// round records a History row, which allocates by design).
template <class Method>
long allocations_in_rounds(const Method& method, int threads) {
  sim::Simulation simulation(
      method, test::logistic_workers(M, n, p), Vector::Zero(p),
      {.seed = 4, .rounds = rounds, .threads = threads, .record_every = rounds});
  allocations = 0;
  simulation.run([](const sim::RoundView& view) {
    if (view.round == 2) counting = true;
    if (view.round == rounds - 1) counting = false;
    return sim::Control::proceed;
  });
  counting = false;
  return allocations.load();
}

// One thread, so that the count is deterministic: with more, compressors size their
// thread_local scratch (compress/compressor.hpp) at their first call on each pool thread, and
// which round that falls in depends on scheduling.
template <class Method>
void check(const Method& method, const std::string& name) {
  INFO(name);
  CHECK(allocations_in_rounds(method, 1) == 0);
}

}  // namespace

TEST_CASE("rounds after the first allocate nothing, for every named method", "[sim]") {
  if (!LACONIC_COUNT_ALLOCATIONS) {
    WARN("SKIPPED: malloc is AddressSanitizer's in this build");
    return;
  }
  // The counter itself works: a vector allocates.
  counting = true;
  allocations = 0;
  { const Vector v = Vector::Zero(100); }
  counting = false;
  REQUIRE(allocations.load() == 1);

  const auto step = server::StepSize::constant(0.3);
  const auto batch = server::Batch::of(10);
  check(Sgd{.server = {.step = step, .batch = batch}}, "sgd");
  check(Gd{.server = {.step = step}}, "gd");
  check(Qsgd{.uplink = {.levels = 3}, .server = {.step = step, .batch = batch}}, "qsgd");
  check(Ef21<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = {.step = step}}, "ef21");
  check(EfSgd<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = {.step = step}},
        "ef_sgd");
  check(LagWk{.server = {.step = step}}, "lag_wk");
  check(LagPs{.server = {.step = step}}, "lag_ps");
  check(Laq{.server = {.step = step}}, "laq");
  check(LasgWk1{.skip = {.D = 5}, .server = {.step = step, .batch = batch}}, "lasg_wk1");
  check(LasgWk2{.skip = {.D = 5}, .server = {.step = step, .batch = batch}}, "lasg_wk2");
  check(LasgPs{.skip = {.threshold = {.D = 5}}, .server = {.step = step, .batch = batch}},
        "lasg_ps");
  check(LasgPse{.skip = {.threshold = {.D = 5}}, .server = {.step = step, .batch = batch}},
        "lasg_pse");
  check(
      Laqsg<skip::LasgWk2>{
          .skip = {.D = 5}, .uplink = {.levels = 7}, .server = {.step = step, .batch = batch}},
      "laqsg");
  check(LocalSgd{.server = {.step = step, .batch = batch, .local_steps = 3}}, "local_sgd");
  check(FedPaq{.uplink = {.levels = 1},
               .server = {.step = step,
                          .batch = batch,
                          .local_steps = 3,
                          .participation = server::Participation::sample(3)}},
        "fedpaq");
  const server::Amsgrad::Params adam{.step = server::StepSize::constant(0.01)};
  check(Amsgrad{.server = adam}, "amsgrad");
  check(CdAdam<>{.server = adam}, "cd_adam");
  check(AmsgradEf<>{.server = adam}, "amsgrad_ef");
  check(AmsgradNaive<>{.server = adam}, "amsgrad_naive");
}
