"""Batched L-BFGS: every problem of a batch stops on its own, at its own minimum."""

from __future__ import annotations

import numpy as np
import torch

from harness.tasks.probe_lbfgs import minimize


def quadratics(n_prob: int, dim: int, seed: int, log_cond: float = 4):
    """Strongly convex f_p(x) = x'A_p x / 2 - b_p'x, condition numbers from 1 to 10**log_cond."""
    rng = np.random.default_rng(seed)
    A, b = [], []
    for p in range(n_prob):
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        eig = np.logspace(0, log_cond * p / max(n_prob - 1, 1), dim)
        A.append(q @ np.diag(eig) @ q.T)
        b.append(rng.normal(size=dim))
    return np.array(A), np.array(b)


def objective(A: np.ndarray, b: np.ndarray):
    At, bt = torch.from_numpy(A), torch.from_numpy(b)

    def evaluate(theta, idx):
        x = theta.double()
        Ax = torch.einsum("pij,pj->pi", At[idx], x)
        f = 0.5 * (x * Ax).sum(1) - (bt[idx] * x).sum(1)
        g = Ax - bt[idx]
        return f, g.float(), g.abs().amax(1)

    return evaluate


def identity(v, idx):
    return v


def test_each_problem_reaches_its_minimum():
    A, b = quadratics(5, 12, seed=0)
    res = minimize(torch.zeros(5, 12), objective(A, b), identity, tol=1e-4, max_iter=500)
    assert res.status == ["converged"] * 5
    for p in range(5):
        np.testing.assert_allclose(res.theta[p].double().numpy(), np.linalg.solve(A[p], b[p]),
                                   rtol=0, atol=2e-3)
    # Better conditioned problems stop sooner: nobody waits for the slowest.
    assert res.n_iter[0] < res.n_iter[-1]


def test_a_problem_is_solved_the_same_alone_or_in_a_batch():
    A, b = quadratics(4, 10, seed=1)
    batch = minimize(torch.zeros(4, 10), objective(A, b), identity, tol=1e-5, max_iter=500)
    alone = minimize(torch.zeros(1, 10), objective(A[2:3], b[2:3]), identity, tol=1e-5,
                     max_iter=500)
    assert batch.n_iter[2] == alone.n_iter[0]
    np.testing.assert_allclose(batch.theta[2].numpy(), alone.theta[0].numpy(), atol=1e-6)


def test_max_iter_stops_one_problem_and_not_the_others():
    A, b = quadratics(3, 10, seed=2)
    res = minimize(torch.zeros(3, 10), objective(A, b), identity, tol=1e-6, max_iter=4)
    assert res.n_iter == [min(n, 4) for n in res.n_iter]
    assert "max_iter" in res.status and all(s in ("converged", "max_iter") for s in res.status)
    assert res.status[0] == "converged"  # condition number 1: one step


def test_no_decrease_stops_the_problem_as_stalled():
    # The reported gradient points uphill: no step along -H g lowers f.
    def evaluate(theta, idx):
        f = theta.double().sum(1) * 10
        return f, -torch.ones_like(theta), torch.ones(theta.shape[0], dtype=torch.float64)

    res = minimize(torch.zeros(2, 3), evaluate, identity, tol=1e-6, max_iter=50)
    assert res.status == ["stalled", "stalled"] and res.n_iter == [1, 1]
    np.testing.assert_array_equal(res.theta.numpy(), 0.0)


def test_pairs_carried_to_a_stronger_penalty_are_exact_and_save_iterations():
    A, b = quadratics(3, 12, seed=3, log_cond=2)
    first = minimize(torch.zeros(3, 12), objective(A, b), identity, tol=1e-5, max_iter=500)
    delta = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    mask = torch.ones(1, 1, 12)
    pairs = first.pairs.add_curvature(delta, mask)
    # For a quadratic y = A s; with the penalty delta/2 ||x||^2 added, y = (A + delta I) s.
    for p in range(3):
        used = pairs.rho[:, p] > 0
        s, y = pairs.S[used, p].double().numpy(), pairs.Y[used, p].double().numpy()
        np.testing.assert_allclose(y, s @ (A[p] + float(delta[p]) * np.eye(12)).T,
                                   rtol=1e-4, atol=1e-4)
    shifted = A + delta.numpy()[:, None, None] * np.eye(12)
    cold = minimize(torch.zeros(3, 12), objective(shifted, b), identity, tol=1e-5, max_iter=500)
    warm = minimize(first.theta, objective(shifted, b), identity, tol=1e-5, max_iter=500,
                    pairs=pairs)
    assert first.status == cold.status == warm.status == ["converged"] * 3
    assert sum(warm.n_iter) < sum(cold.n_iter)
    for p in range(3):
        np.testing.assert_allclose(warm.theta[p].double().numpy(),
                                   np.linalg.solve(shifted[p], b[p]), atol=1e-4)
