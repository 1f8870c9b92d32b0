#pragma once

// A LibTorch network as a worker's objective (target laconic::torch, built when LibTorch is
// found): a module, a loss and the worker's samples as tensors become an Objective whose θ is
// the module's parameters flattened in the order module->parameters() gives them, each in
// its own row-major (contiguous) order. docs/objectives.md shows it in use.
//
//   f_m(θ) = (1/|B|) Σ_{i∈B} loss(module_θ(inputs_i), targets_i)
//
// Between calls the parameters view one flat tensor, the module's own θ (its initialization);
// during a call they view the caller's x, so that θ reaches the network without a copy, and
// autograd's gradients (tensors of its own, which it fills without zeroing first) are copied
// into the caller's g once.
// The module is converted to double precision, laconic's scalar. A forward pass that draws
// random numbers (dropout) must say so (Params::random): each minibatch gradient then seeds
// LibTorch's generator from laconic's stream for the worker and round (draw_from). The
// module must hold no buffers (no BatchNorm statistics): they would be state beyond θ.

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/objective/common.hpp>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <utility>

namespace laconic::objective {

// The mean loss of a batch: the network's outputs and the batch's targets in, a scalar out.
using TorchLoss =
    std::function<torch::Tensor(const torch::Tensor& output, const torch::Tensor& target)>;

// Cross-entropy over class scores (targets: class indices, int64), the default loss.
inline torch::Tensor cross_entropy(const torch::Tensor& output, const torch::Tensor& target) {
  return torch::nn::functional::cross_entropy(output, target);
}

// Module: a torch::nn::ModuleHolder (torch::nn::Sequential, torch::nn::Linear, or your own
// TORCH_MODULE) whose forward takes one tensor. Each worker needs its own module instance.
template <class Module>
class Torch {
 public:
  struct Params {
    TorchLoss loss = cross_entropy;
    // LibTorch's intra-op threads, a process-wide setting applied by the constructor; 1 lets
    // laconic's thread pool run the workers side by side.
    int intra_op_threads = 1;
    // The forward pass draws random numbers (dropout) from LibTorch's generator, which is one
    // per process: each minibatch gradient then seeds it from draw_from()'s stream and runs
    // under a process-wide lock, so that runs repeat on any number of threads — and such
    // workers' gradients run one at a time.
    bool random = false;
  };

  // inputs: the worker's samples along the first dimension; targets: one per sample.
  Torch(Module module, torch::Tensor inputs, torch::Tensor targets, Params params = {})
      : module_(std::move(module)),
        inputs_(std::move(inputs)),
        targets_(std::move(targets)),
        params_(std::move(params)) {
    require_param(!module_.is_empty(), "module", "empty", "a constructed module");
    require_param(inputs_.defined() && inputs_.dim() >= 1 && inputs_.size(0) >= 1, "inputs.size(0)",
                  inputs_.defined() && inputs_.dim() >= 1 ? inputs_.size(0) : 0,
                  ">= 1 (the samples along the first dimension)");
    require_param(targets_.defined() && targets_.dim() >= 1 && targets_.size(0) == inputs_.size(0),
                  "targets.size(0)",
                  targets_.defined() && targets_.dim() >= 1 ? targets_.size(0) : 0,
                  fmt::format("inputs.size(0) = {} (one target per sample)", inputs_.size(0)));
    require_param(static_cast<bool>(params_.loss), "loss", "empty", "a loss function");
    require_param(params_.intra_op_threads >= 1, "intra_op_threads", params_.intra_op_threads,
                  ">= 1");
    require_param(module_->buffers().empty(), "module buffers", module_->buffers().size(),
                  "0: buffers (BatchNorm's running statistics) are state beyond θ, which this "
                  "objective does not keep");
    torch::set_num_threads(params_.intra_op_threads);
    module_->to(torch::kFloat64);
    if (inputs_.is_floating_point()) inputs_ = inputs_.to(torch::kFloat64);
    inputs_ = inputs_.contiguous();
    targets_ = targets_.contiguous();

    parameters_ = module_->parameters();
    require_param(!parameters_.empty(), "module parameters", 0, ">= 1");
    std::int64_t dim = 0;
    for (const torch::Tensor& p : parameters_) dim += p.numel();
    const auto options = torch::TensorOptions().dtype(torch::kFloat64);
    flat_ = torch::empty({dim}, options);
    torch::NoGradGuard no_grad;
    each_parameter([&](const torch::Tensor& p, std::int64_t offset) {
      torch::Tensor value = flat_.narrow(0, offset, p.numel()).view(p.sizes());
      value.copy_(p);
      p.set_data(value);
      p.mutable_grad().reset();
      own_.push_back(std::move(value));
    });
  }

  Index dim() const { return flat_.numel(); }
  Index size() const { return inputs_.size(0); }
  const Params& params() const { return params_; }
  Module& module() { return module_; }
  const Module& module() const { return module_; }

  // θ as the module holds it between calls: its initialization (the usual θ⁰), until
  // set_parameters() replaces it (a trained θ, to use the module after a run).
  Vector parameters() const { return Eigen::Map<const Vector>(flat_.data_ptr<double>(), dim()); }
  void set_parameters(const Vector& x) {
    detail::require_point(x, dim());
    Eigen::Map<Vector>(flat_.data_ptr<double>(), dim()) = x;
  }

  // The mean loss over the batch (local indices, repeats allowed), in training mode; writes
  // its gradient into g.
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    require_param(!batch.empty(), "batch.size()", batch.size(), ">= 1");
    for (const Index i : batch) detail::require_index(i, size());
    const torch::Tensor rows = rows_of(batch);
    std::unique_lock<std::mutex> lock;  // held while LibTorch's generator is seeded and used
    if (params_.random) {
      lock = std::unique_lock(generator_mutex());
      torch::manual_seed(RandomStream(stream_).next_u64());
    }
    return loss_gradient(x, inputs_.index_select(0, rows), targets_.index_select(0, rows), g);
  }
  // The loss and gradient over all samples in evaluation mode (no dropout): the History's
  // measure, and full-batch training.
  double full_gradient(const Vector& x, Vector& g) {
    const Evaluation evaluation(module_);
    return loss_gradient(x, inputs_, targets_, g);
  }
  // Where gradient() draws its random numbers until the next call (Params::random).
  void draw_from(const RandomStream& stream) { stream_ = stream; }

  // The fraction of the worker's samples whose largest output is the target's class, in
  // evaluation mode. It points the module at x, so it must not run concurrently with another
  // call on this instance.
  double accuracy(const Vector& x) const {
    detail::require_point(x, dim());
    const Reading reading(*this, x);
    const Evaluation evaluation(module_);
    torch::NoGradGuard no_grad;
    const torch::Tensor predicted = module_->forward(inputs_).argmax(1);
    return predicted.eq(targets_).to(torch::kFloat64).mean().template item<double>();
  }

 private:
  // The module in evaluation mode (dropout off) while this lives.
  class Evaluation {
   public:
    explicit Evaluation(Module& module) : module_(module) { module_->eval(); }
    ~Evaluation() { module_->train(); }
    Evaluation(const Evaluation&) = delete;
    Evaluation& operator=(const Evaluation&) = delete;

   private:
    Module& module_;
  };

  // LibTorch's CPU generator is one per process, and so is this lock on seeding and using it.
  static std::mutex& generator_mutex() {
    static std::mutex mutex;
    return mutex;
  }

  // The parameters view x while this lives (nothing is copied; nothing writes to them), then
  // the module's own θ again with no gradients, so that nothing keeps pointing into x and no
  // gradient of a call that failed half-way is added to the next.
  class Reading {
   public:
    Reading(const Torch& torch, const Vector& x) : torch_(torch) {
      torch_.each_parameter([&](const torch::Tensor& p, std::int64_t offset) {
        p.set_data(
            torch::from_blob(const_cast<double*>(x.data()) + offset, p.sizes(), torch::kFloat64));
      });
    }
    ~Reading() {
      std::size_t i = 0;
      for (const torch::Tensor& p : torch_.parameters_) {
        p.set_data(torch_.own_[i++]);
        p.mutable_grad().reset();
      }
    }
    Reading(const Reading&) = delete;
    Reading& operator=(const Reading&) = delete;

   private:
    const Torch& torch_;
  };
  // f(parameter, its offset in θ) for each parameter, in θ's order.
  template <class F>
  void each_parameter(F&& f) const {
    std::int64_t offset = 0;
    for (const torch::Tensor& p : parameters_) {
      f(p, offset);
      offset += p.numel();
    }
  }

  // The mean loss of the module at x on these samples, and its gradient into g.
  double loss_gradient(const Vector& x, const torch::Tensor& inputs, const torch::Tensor& targets,
                       Vector& g) {
    detail::require_point(x, dim());
    const Reading reading(*this, x);
    const torch::AutoGradMode with_gradients(true);  // whatever the caller's mode
    const torch::Tensor loss = params_.loss(module_->forward(inputs), targets);
    loss.backward();
    g.resize(dim());
    each_parameter([&](const torch::Tensor& p, std::int64_t offset) {
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) {  // a parameter the loss does not depend on
        g.segment(offset, p.numel()).setZero();
      } else if (grad.is_contiguous()) {
        g.segment(offset, p.numel()) = Eigen::Map<const Vector>(grad.data_ptr<double>(), p.numel());
      } else {
        torch::from_blob(g.data() + offset, p.sizes(), torch::kFloat64).copy_(grad);
      }
    });
    return loss.item<double>();
  }

  // The batch as an index tensor over its own memory (Index is int64, as torch's kLong).
  static torch::Tensor rows_of(std::span<const Index> batch) {
    static_assert(sizeof(Index) == sizeof(std::int64_t));
    return torch::from_blob(const_cast<Index*>(batch.data()),
                            {static_cast<std::int64_t>(batch.size())}, torch::kLong);
  }

  mutable Module module_;
  torch::Tensor inputs_, targets_;
  Params params_;
  std::vector<torch::Tensor> parameters_;       // the module's, in θ's order
  torch::Tensor flat_;                          // the module's own θ
  std::vector<torch::Tensor> own_;              // each parameter's view of flat_
  RandomStream stream_{0, Purpose::objective};  // Params::random: the draws of gradient()
};

}  // namespace laconic::objective
