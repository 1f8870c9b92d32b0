// Writing your own compressor: "block sign" sends, for every block of B coordinates, their mean
// magnitude as one float and the sign of each as one bit. It is written against the Compressor
// contract only (laconic/compress/compressor.hpp), checked with compress::check_contract, and
// then trained with EF21 against uncompressed gradient descent.

#include <laconic/compress/check.hpp>
#include <laconic/laconic.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

using namespace laconic;

namespace {

// C(x)_i = s_b · sign(x_i) for i in block b, s_b = mean |x_j| over the block, sign(0) = +1.
// Deterministic and biased; ‖C(x) − x‖² ≤ (1 − 1/B)‖x‖², so EF21 converges with it.
class BlockSign {
 public:
  struct Params {
    Index block = 8;  // B, coordinates per scale: 1..64
  };

  explicit BlockSign(const Params& params, const compress::Wire& wire = {})
      : block_(params.block), float_bits_(compress::validated(wire).float_bits) {
    require_param(block_ >= 1 && block_ <= 64, "block_sign.block", block_, "in 1..64");
  }

  bool unbiased() const { return false; }
  std::string describe() const {
    return fmt::format("block_sign(block={}, fp{})", block_, float_bits_);
  }

  // Per block: its scale as a float_bits float (metadata), then one bit per sign (values).
  Message encode(const Vector& x, RandomStream& /*rng: not used*/) const {
    Message message;
    BitWriter writer(message);
    for (Index start = 0; start < x.size(); start += block_) {
      const Index n = std::min(block_, x.size() - start);
      const double s = scale(x, start, n);
      float_bits_ == 32 ? writer.write_f32(static_cast<float>(s), Field::metadata)
                        : writer.write_f64(s, Field::metadata);
      std::uint64_t signs = 0;
      for (Index j = 0; j < n; ++j) signs |= std::uint64_t{x[start + j] < 0} << j;
      writer.write(signs, static_cast<int>(n), Field::values);
    }
    writer.finish();
    return message;
  }

  // `out` has the sender's dimension; anything but a message encode() wrote is refused.
  void decode(const Message& message, Vector& out) const {
    BitReader reader(message.bytes);  // throws DecodeError when reading past the end
    for (Index start = 0; start < out.size(); start += block_) {
      const Index n = std::min(block_, out.size() - start);
      const double s = float_bits_ == 32 ? reader.read_f32() : reader.read_f64();
      if (!std::isfinite(s) || s < 0) throw DecodeError(fmt::format("block_sign: scale {}", s));
      const std::uint64_t signs = reader.read(static_cast<int>(n));
      for (Index j = 0; j < n; ++j) out[start + j] = (signs >> j & 1) != 0 ? -s : s;
    }
    reader.expect_end();  // nothing but zero padding after the payload
  }

  // decode(encode(x)) without the bytes, and the bits encode() counts.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    for (Index start = 0; start < x.size(); start += block_) {
      const Index n = std::min(block_, x.size() - start);
      const double s = scale(x, start, n);
      for (Index j = 0; j < n; ++j) out[start + j] = x[start + j] < 0 ? -s : s;
    }
    const auto p = static_cast<std::uint64_t>(x.size()), b = static_cast<std::uint64_t>(block_);
    return Bits{.values = p, .metadata = (p + b - 1) / b * static_cast<std::uint64_t>(float_bits_)};
  }

 private:
  // The block's mean magnitude as the wire carries it; refuses what no message can carry.
  double scale(const Vector& x, Index start, Index n) const {
    double sum = 0;
    for (Index j = 0; j < n; ++j) sum += std::abs(x[start + j]);
    const double mean = sum / static_cast<double>(n);
    const double sent = float_bits_ == 32 ? static_cast<float>(mean) : mean;
    compress::require_finite_input(std::isfinite(sent), "block_sign");  // std::domain_error
    return sent;
  }

  Index block_;
  int float_bits_;
};
static_assert(compress::Compressor<BlockSign>);

}  // namespace

int main() {
  // 1. The contract, at both float widths, for sizes around the block size.
  try {
    for (const int width : {32, 64}) {
      const BlockSign c({.block = 8}, {.float_bits = width});
      for (const Index p : {1, 7, 8, 9, 100}) {
        const Vector x = Vector::LinSpaced(p, -1.0, 2.0);  // negatives, positives, a 0 for p = 7
        compress::check_contract(c, x, 1);  // throws std::logic_error naming what is wrong
      }
    }
  } catch (const std::logic_error& e) {
    fmt::print("contract violated: {}\n", e.what());
    return 1;
  }
  fmt::print("block_sign meets the Compressor contract\n");

  // 2. Logistic regression on 10 workers, 32-bit floats on the wire (the papers' convention):
  // rounds and bits until ‖∇f‖² < 10⁻⁸, uncompressed GD against EF21 with block_sign.
  const auto problem = data::make_logistic({.samples = 2000, .features = 64, .seed = 3});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(problem.data, {.workers = 10})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  }
  const sim::Options options{
      .seed = 1, .rounds = 5000, .record_every = 10, .target_grad_norm_sq = 1e-8};
  const server::Sgd::Params step{.step = server::StepSize::constant(0.5)};
  const auto run = [&](const auto& method) {
    return sim::Simulation(method, workers, Vector::Zero(64), options).run();
  };
  const sim::RunResult gd = run(Gd{.server = step, .float_bits = 32});
  const sim::RunResult ef21 = run(Ef21<BlockSign>{.server = step, .float_bits = 32});
  for (const sim::RunResult* r : {&gd, &ef21}) {
    const sim::Record& last = r->history.rows.back();
    fmt::print("{:<5} reached |grad|^2 {:.2e} at round {:>4}: loss {:.8f}, {:7.3f} Mbit up\n",
               r == &gd ? "GD" : "EF21", last.grad_norm_sq, last.round, last.loss,
               last.traffic.up.total() / 1e6);
  }
  const double ratio = static_cast<double>(gd.ledger.total().up.total()) /
                       static_cast<double>(ef21.ledger.total().up.total());
  fmt::print("EF21 with block_sign reaches it with {:.1f}x fewer bits\n", ratio);
  const bool reached = gd.status == sim::Status::reached && ef21.status == sim::Status::reached;
  // 6.4x per message (32p bits against p + 32p/8), in about as many rounds.
  return reached && ratio > 5 ? 0 : 1;
}
