"""laconic.pytorch: a PyTorch model as every worker's objective (skipped without PyTorch)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import laconic  # noqa: E402
from laconic.pytorch import Objective  # noqa: E402

FEATURES, HIDDEN, CLASSES = 4, 5, 3


def mlp():
    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.Tanh(),
                               torch.nn.Linear(HIDDEN, CLASSES))


def blobs(n, seed):
    """n samples in three classes, each around its own centre."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % CLASSES
    centres = 2.0 * torch.randn(CLASSES, FEATURES, generator=generator, dtype=torch.float64)
    inputs = centres[targets] + 0.5 * torch.randn(n, FEATURES, generator=generator,
                                                  dtype=torch.float64)
    return inputs, targets


def shards(workers=4, per_worker=30):
    inputs, targets = blobs(workers * per_worker, 3)
    return [(inputs[w * per_worker:(w + 1) * per_worker],
             targets[w * per_worker:(w + 1) * per_worker]) for w in range(workers)]


def test_theta_is_the_parameters_in_order_and_the_gradient_is_autogrades():
    net = Objective(mlp, shards())
    assert net.workers == 4 and net.samples == [30] * 4
    assert net.dim == FEATURES * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES
    expected = np.concatenate([p.detach().numpy().ravel() for p in mlp().double().parameters()])
    np.testing.assert_array_equal(net.theta0, expected)

    theta = np.linspace(-1, 1, net.dim)
    batch = np.array([3, 1, 4, 1, 5], dtype=np.int64)
    loss, gradient = net(theta, batch, 2)
    # The same loss and gradient from a plain PyTorch step on a fresh module.
    reference = mlp().double()
    torch.nn.utils.vector_to_parameters(torch.from_numpy(theta), reference.parameters())
    inputs, targets = shards()[2]
    expected_loss = torch.nn.functional.cross_entropy(reference(inputs[batch]), targets[batch])
    expected_loss.backward()
    expected_gradient = torch.cat([p.grad.reshape(-1) for p in reference.parameters()])
    assert loss == pytest.approx(expected_loss.item(), rel=1e-14)
    np.testing.assert_allclose(gradient, expected_gradient.numpy(), rtol=1e-12, atol=1e-15)

    # Central differences of the returned loss.
    h = 1e-7
    for j in range(0, net.dim, 7):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numerical = (net(up, batch, 2)[0] - net(down, batch, 2)[0]) / (2 * h)
        assert numerical == pytest.approx(gradient[j], abs=1e-7)


def test_a_run_trains_the_model_the_same_on_one_and_two_threads():
    net = Objective(mlp, shards())
    test_inputs, test_targets = blobs(300, 3)
    test_inputs, test_targets = test_inputs[200:], test_targets[200:]
    arguments = dict(objective=net, workers=net.workers, samples=net.samples, dim=net.dim,
                     theta0=net.theta0, rounds=150, seed=2)
    one = laconic.run("lasg_wk2(D=10, d_max=10) + sgd(step=0.3, batch=10)", **arguments)
    two = laconic.run("lasg_wk2(D=10, d_max=10) + sgd(step=0.3, batch=10)", threads=2,
                      **arguments)
    np.testing.assert_array_equal(one.theta, two.theta)
    assert one.csv == two.csv
    assert net.accuracy(one.theta, test_inputs, test_targets) >= 0.95
    assert one.history["loss"][-1] < 0.2 * one.history["loss"][0]
    assert one.traffic["uploads"] < 4 * 150


def test_what_the_objective_cannot_keep_is_refused_by_name():
    def with_batch_norm():
        return torch.nn.Sequential(torch.nn.Linear(FEATURES, 3), torch.nn.BatchNorm1d(3))

    with pytest.raises(ValueError, match="module buffers.*BatchNorm"):
        Objective(with_batch_norm, shards())
    inputs, targets = shards()[0]
    with pytest.raises(ValueError, match=r"shards\[0\] = \(30 inputs, 29 targets\)"):
        Objective(mlp, [(inputs, targets[:29])])
    with pytest.raises(ValueError, match="threads = 0"):
        Objective(mlp, shards(), threads=0)


def dropout_mlp():
    torch.manual_seed(7)  # the same weights as mlp(): dropout has no parameters
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.Tanh(),
                               torch.nn.Dropout(0.5), torch.nn.Linear(HIDDEN, CLASSES))


def test_dropout_declared_random_draws_from_the_seed_and_repeats_on_any_threads():
    net = Objective(dropout_mlp, shards(), random=True)
    assert net.random and not Objective(mlp, shards()).random
    theta, batch = net.theta0, np.arange(10, dtype=np.int64)

    def call(seed):
        loss, gradient = net(theta, batch, 1, seed)
        return loss, gradient.copy()  # the returned gradient is a view the next call overwrites

    # A seed fixes the masks: the same seed draws the same, another seed others.
    first, again, other = call(5), call(5), call(6)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    # None (full gradients) is evaluation mode: the network without dropout.
    loss, gradient = call(None)
    plain_loss, plain_gradient = Objective(mlp, shards())(theta, batch, 1)
    assert loss == plain_loss
    np.testing.assert_array_equal(gradient, plain_gradient)

    # Runs repeat, on one thread and on two.
    def run(threads):
        fresh = Objective(dropout_mlp, shards(), random=True)
        return laconic.run("lasg_wk2(D=10, d_max=10) + sgd(step=0.3, batch=5)", objective=fresh,
                           workers=fresh.workers, samples=fresh.samples, dim=fresh.dim,
                           theta0=fresh.theta0, rounds=40, threads=threads)

    one, two, again = run(1), run(2), run(2)
    np.testing.assert_array_equal(one.theta, two.theta)
    np.testing.assert_array_equal(two.theta, again.theta)
    assert one.csv == two.csv
