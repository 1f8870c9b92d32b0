"""PyTorch models as laconic objectives (docs/python.md, "A PyTorch model").

    import laconic
    from laconic.pytorch import Objective

    net = Objective(make_mlp, shards)          # one module per worker, from make_mlp()
    result = laconic.run("lasg_wk2 + sgd(step=0.3, batch=10)", objective=net,
                         workers=net.workers, samples=net.samples, dim=net.dim,
                         theta0=net.theta0, rounds=500)
    net.accuracy(result.theta, X_test, y_test)

θ is the modules' parameters in the order module.parameters() lists them, each flattened
row-major, as laconic::objective::Torch orders them in C++. Each worker's parameters become
views into one flat float64 tensor and their gradients into another, so θ reaches the module
as one copy and the gradient leaves as one. This module needs PyTorch (Debian: python3-torch);
`import laconic` does not.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["Objective"]

# PyTorch's default generator, which dropout draws from, is one per process; a random
# objective seeds and uses it under this lock, so that workers on several laconic threads
# (PyTorch releases the GIL inside its operators) do not draw from each other's seeds.
_generator_lock = threading.Lock()


def _as_float64(inputs):
    """Inputs as a tensor, floating point made float64 (the modules' precision)."""
    inputs = torch.as_tensor(inputs)
    return inputs.to(torch.float64) if inputs.is_floating_point() else inputs


class Objective:
    """Every worker's copy of a torch.nn.Module with its samples: the callable laconic.run takes.

    make_module: called once per worker, returns a fresh module; it must build the same
        weights each time (seed inside it), since all workers start from one θ (theta0 is the
        first worker's). The modules are converted to float64, laconic's scalar.
    shards: one (inputs, targets) pair of tensors (or NumPy arrays) per worker, the samples
        along the first dimension; floating-point inputs are converted to float64.
    loss: fn(output, target) -> the batch's mean loss (default: cross-entropy on class scores).
    threads: PyTorch's intra-op threads, a process-wide setting (torch.set_num_threads); 1
        lets laconic's threads run the workers side by side.
    random: the forward pass draws random numbers (dropout). laconic then passes each
        minibatch gradient a seed from its stream for the worker and round, which seeds
        PyTorch's generator (under a process-wide lock, so such gradients run one at a time),
        and None for full gradients (the History's, full-batch rounds), which run in evaluation
        mode, without dropout. A module with dropout that does not say so still runs, but a
        run does not repeat.

    The modules must hold no buffers (BatchNorm's statistics): state beyond θ that laconic
    does not keep. Modules with buffers are refused.
    """

    def __init__(self, make_module: Callable[[], torch.nn.Module],
                 shards: Sequence[tuple], *,
                 loss: Callable = torch.nn.functional.cross_entropy, threads: int = 1,
                 random: bool = False):
        if not shards:
            raise ValueError("invalid parameter shards = []: must hold one (inputs, targets) "
                             "pair per worker")
        if threads < 1:
            raise ValueError(f"invalid parameter threads = {threads}: must be >= 1")
        torch.set_num_threads(threads)
        self.random = bool(random)  # read by laconic.run: call with a seed
        self._loss = loss
        self._modules, self._inputs, self._targets = [], [], []
        self._theta, self._gradient = [], []
        for worker, (inputs, targets) in enumerate(shards):
            inputs, targets = _as_float64(inputs), torch.as_tensor(targets)
            if inputs.dim() < 1 or len(inputs) < 1 or len(targets) != len(inputs):
                raise ValueError(
                    f"invalid parameter shards[{worker}] = ({len(inputs)} inputs, "
                    f"{len(targets)} targets): must hold one target per sample, at least one")
            module = make_module().to(torch.float64)
            buffers = [name for name, _ in module.named_buffers()]
            if buffers:
                raise ValueError(
                    f"invalid parameter module buffers = {buffers}: must be none (buffers, "
                    "such as BatchNorm's running statistics, are state beyond θ that laconic "
                    "does not keep)")
            theta, gradient = self._flatten(module)
            if self._theta and len(theta) != len(self._theta[0]):
                raise ValueError(f"invalid parameter make_module() = a module of {len(theta)} "
                                 f"parameters for worker {worker}: must give every worker the "
                                 f"same model ({len(self._theta[0])} parameters)")
            self._modules.append(module)
            self._inputs.append(inputs.contiguous())
            self._targets.append(targets.contiguous())
            self._theta.append(theta)
            self._gradient.append(gradient)

    @staticmethod
    def _flatten(module):
        """Makes the module's parameters and their gradients views into two flat tensors."""
        parameters = list(module.parameters())
        size = sum(p.numel() for p in parameters)
        theta = torch.empty(size, dtype=torch.float64)
        gradient = torch.zeros(size, dtype=torch.float64)
        offset = 0
        with torch.no_grad():
            for p in parameters:
                n = p.numel()
                theta[offset:offset + n].copy_(p.reshape(-1))
                p.data = theta[offset:offset + n].view_as(p)
                p.grad = gradient[offset:offset + n].view_as(p)
                offset += n
        return theta, gradient

    @property
    def workers(self) -> int:
        return len(self._modules)

    @property
    def samples(self) -> list[int]:
        return [len(inputs) for inputs in self._inputs]

    @property
    def dim(self) -> int:
        return len(self._theta[0])

    @property
    def theta0(self) -> np.ndarray:
        """The first worker's module's parameters as built: the run's natural start."""
        return self._theta[0].numpy().copy()

    def __call__(self, theta, batch, worker, seed=None):
        """Worker's mean loss over batch (indices into its samples) and its gradient at θ.

        seed (random objectives): an int seeds PyTorch's generator for this call's dropout;
        None runs the module in evaluation mode, without dropout.
        """
        if not self.random:
            return self._loss_gradient(theta, batch, worker)
        module = self._modules[worker]
        with _generator_lock:
            if seed is not None:
                torch.manual_seed(seed)
            module.train(seed is not None)
            try:
                return self._loss_gradient(theta, batch, worker)
            finally:
                module.train()

    def _loss_gradient(self, theta, batch, worker):
        self._theta[worker].copy_(torch.from_numpy(np.asarray(theta)))
        gradient = self._gradient[worker]
        gradient.zero_()
        rows = torch.from_numpy(np.asarray(batch, dtype=np.int64))
        with torch.enable_grad():
            loss = self._loss(self._modules[worker](self._inputs[worker][rows]),
                              self._targets[worker][rows])
            loss.backward()
        return loss.item(), gradient.numpy()  # a view: laconic copies it before the next call

    def accuracy(self, theta, inputs, targets) -> float:
        """The fraction of samples whose largest output is the target class, at θ."""
        module = self._modules[0]
        self._theta[0].copy_(torch.from_numpy(np.asarray(theta)))
        inputs, targets = _as_float64(inputs), torch.as_tensor(targets)
        with torch.no_grad():
            module.eval()
            try:
                return module(inputs).argmax(1).eq(targets).double().mean().item()
            finally:
                module.train()
