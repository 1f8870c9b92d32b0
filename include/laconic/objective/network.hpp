#pragma once

// A network laconic builds from a few parameters over a worker's shard (target laconic::torch),
// so that an experiment file can name one: [objective] name = "network". It classifies the
// shard's rows into the dataset's classes with cross-entropy loss, through objective::Torch:
//
//   f_m(θ) = (1/|B|) Σ_{i∈B} CE(net_θ(a_i), y_i) + (λ/2)‖θ‖²,   λ = weight_decay
//
//   mlp: features → hidden[0] → … → classes, the activation (and dropout, when asked) after
//        each hidden layer;
//   cnn: each row as one image×image channel; per entry c of `channels` a 5×5 convolution to
//        c channels (padding 2), the activation and a 2×2 max-pool; then the flattened maps
//        through `hidden` and to the classes as in mlp.
//
// θ is the network's weights and biases, layer by layer, each weight row-major (Torch's
// order). initial_point(seed) draws every weight and bias of a layer from U(−1/√fan_in,
// 1/√fan_in), fan_in the inputs of one unit — the distribution of PyTorch's default
// initialization — from laconic's RandomStream(seed, Purpose::init), so a run's θ⁰ is fixed by
// its seed on every platform. With dropout, each minibatch gradient's masks come from the
// stream the round engine gives for the worker and round (objective::Torch's Params::random);
// full gradients — the History's — are taken without dropout. Copies share the network: use
// one copy at a time.

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/objective/common.hpp>
#include <laconic/objective/torch.hpp>

#include <fmt/format.h>
#include <torch/torch.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace laconic::objective {

class Network {
 public:
  enum class Architecture { mlp, cnn };
  enum class Activation { relu, elu, tanh };

  struct Params {
    Architecture architecture = Architecture::mlp;
    std::vector<Index> hidden = {200};       // the widths of the fully connected hidden layers
    std::vector<Index> channels = {10, 20};  // cnn: each convolution's output channels
    Index image = 0;                         // cnn: the side of the square images (0: √features)
    Activation activation = Activation::relu;
    double dropout = 0;       // the probability of zeroing a hidden unit, in [0, 1)
    double weight_decay = 0;  // λ ≥ 0

    template <class V>
    void fields(V&& v) {
      v("architecture", architecture, {"mlp", "cnn"});
      v("hidden", hidden);
      v("channels", channels);
      v("image", image);
      v("activation", activation, {"relu", "elu", "tanh"});
      v("dropout", dropout);
      v("weight_decay", weight_decay);
    }
  };

  // The shard must hold a multiclass dataset (labels 0..C−1).
  Network(const data::Shard& shard, const Params& params)
      : params_(checked(shard, params)),
        torch_(build(shard, params_), inputs_of(shard), targets_of(shard),
               {.random = params_.dropout > 0}) {}

  Index dim() const { return torch_.dim(); }
  Index size() const { return torch_.size(); }
  const Params& params() const { return params_; }

  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    return with_decay(x, torch_.gradient(x, batch, g), g);
  }
  double full_gradient(const Vector& x, Vector& g) {
    return with_decay(x, torch_.full_gradient(x, g), g);
  }
  void draw_from(const RandomStream& stream) { torch_.draw_from(stream); }
  double accuracy(const Vector& x) const { return torch_.accuracy(x); }

  // θ⁰ for a run with this seed (see the top of this file).
  Vector initial_point(std::uint64_t seed) const {
    RandomStream rng(seed, Purpose::init);
    Vector theta(dim());
    Index offset = 0;
    double bound = 0;
    for (const auto& item : torch_.module()->named_parameters()) {
      const torch::Tensor& p = item.value();
      if (item.key().ends_with("weight")) {
        bound = 1 / std::sqrt(static_cast<double>(p.numel() / p.size(0)));
      }
      for (std::int64_t j = 0; j < p.numel(); ++j) {
        theta[offset++] = bound * (2 * rng.uniform() - 1);
      }
    }
    return theta;
  }

 private:
  static const Params& checked(const data::Shard& shard, const Params& params) {
    detail::require_shard(shard);
    require_param(shard.data->task() == data::Task::multiclass, "dataset task",
                  detail::task_name(shard.data->task()), "multiclass (labels 0..C-1)");
    require_non_negative_finite("weight_decay", params.weight_decay);
    require_param(params.dropout >= 0 && params.dropout < 1, "dropout", params.dropout,
                  "in [0, 1)");
    const auto require_widths = [](std::string_view name, const std::vector<Index>& widths) {
      for (std::size_t i = 0; i < widths.size(); ++i) {
        require_param(widths[i] >= 1, fmt::format("{}[{}]", name, i), widths[i], ">= 1");
      }
    };
    require_widths("hidden", params.hidden);
    if (params.architecture == Architecture::cnn) {
      require_param(!params.channels.empty(), "channels", "[]", "at least one convolution");
      require_widths("channels", params.channels);
      const Index side = image_side(shard, params);
      require_param(
          side * side == shard.dim(), "image", side,
          fmt::format("the side of a square image of the dataset's {} features", shard.dim()));
      require_param((side >> params.channels.size()) >= 1, "channels", params.channels.size(),
                    fmt::format("at most {} convolutions: each halves the {}-pixel side",
                                std::bit_width(static_cast<std::uint64_t>(side)) - 1, side));
    }
    return params;
  }

  // The loss and gradient with the weight decay's part added.
  double with_decay(const Vector& x, double loss, Vector& g) const {
    if (params_.weight_decay == 0) return loss;
    g += params_.weight_decay * x;
    return loss + 0.5 * params_.weight_decay * x.squaredNorm();
  }

  static Index image_side(const data::Shard& shard, const Params& params) {
    if (params.image > 0) return params.image;
    return static_cast<Index>(std::llround(std::sqrt(static_cast<double>(shard.dim()))));
  }

  static torch::nn::AnyModule activation(Activation a) {
    switch (a) {
      case Activation::elu:
        return torch::nn::AnyModule(torch::nn::ELU());
      case Activation::tanh:
        return torch::nn::AnyModule(torch::nn::Tanh());
      case Activation::relu:
        break;
    }
    return torch::nn::AnyModule(torch::nn::ReLU());
  }

  static torch::nn::Sequential build(const data::Shard& shard, const Params& params) {
    torch::nn::Sequential net;
    std::int64_t width = shard.dim();
    if (params.architecture == Architecture::cnn) {
      std::int64_t side = image_side(shard, params), maps = 1;
      net->push_back(torch::nn::Unflatten(torch::nn::UnflattenOptions(1, {1, side, side})));
      for (const Index c : params.channels) {
        net->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(maps, c, 5).padding(2)));
        net->push_back(activation(params.activation));
        net->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
        maps = c;
        side /= 2;
      }
      net->push_back(torch::nn::Flatten());
      width = maps * side * side;
    }
    for (const Index h : params.hidden) {
      net->push_back(torch::nn::Linear(width, h));
      net->push_back(activation(params.activation));
      if (params.dropout > 0) net->push_back(torch::nn::Dropout(params.dropout));
      width = h;
    }
    net->push_back(torch::nn::Linear(width, shard.data->num_classes()));
    return net;
  }

  // The shard's rows, dense, as a (rows × features) double tensor.
  static torch::Tensor inputs_of(const data::Shard& shard) {
    torch::Tensor inputs = torch::empty({shard.size(), shard.dim()}, torch::kFloat64);
    Eigen::Map<DenseMatrix> out(inputs.data_ptr<double>(), shard.size(), shard.dim());
    shard.data->visit([&](const auto& a) { out = a.middleRows(shard.begin, shard.size()); });
    return inputs;
  }
  static torch::Tensor targets_of(const data::Shard& shard) {
    torch::Tensor targets = torch::empty({shard.size()}, torch::kLong);
    Eigen::Map<Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(
        targets.data_ptr<std::int64_t>(), shard.size()) = shard.labels().cast<std::int64_t>();
    return targets;
  }

  Params params_;
  Torch<torch::nn::Sequential> torch_;
};

}  // namespace laconic::objective
