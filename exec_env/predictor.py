"""A short-horizon predictor of the mid move, trained walk-forward on order-flow features.

Samples are decision times on a grid (every ``interval_s`` from ``open + warmup_s``); the inputs
are the order-flow feature row in force at ``t`` (:mod:`exec_env.orderflow`, data up to ``t``)
and the label is the move of the forward-filled mid over ``(t, t + horizon_s]`` in bps. The
label is the only thing that looks ahead, and it is never an input.

The reference model is an L2-regularised logistic regression of ``P(up | move != 0)`` fitted by
Newton's method on standardised features (zero moves carry no sign and are left out of the fit
and of the accuracy/AUC), with a ridge regression of the move in bps beside it for the size.
:meth:`Predictor.save` writes JSON with the feature list and orderflow version; :meth:`load`
refuses a model whose features differ from the code's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env import orderflow
from exec_env.orderflow import OrderflowArrays, features_at, row_at

__all__ = [
    "Predictor",
    "auc",
    "calibration_table",
    "classification_metrics",
    "day_samples",
    "fit_predictor",
    "samples",
    "walk_forward",
]

_NS = 1_000_000_000


def day_samples(
    day: Any,
    flow: OrderflowArrays,
    interval_s: float,
    horizon_s: float,
    warmup_s: float = 300.0,
    lo_ns: int | None = None,
    hi_ns: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ns, X, move_bps)`` on the grid ``open + warmup_s + j * interval_s`` inside
    ``[lo_ns, hi_ns - horizon]`` (default: the day's data inside its session). ``X[j]`` is the
    feature row at ``t_j``; ``move_bps[j] = 1e4 * log(mid(t_j + horizon) / mid(t_j))`` with the
    forward-filled mid. Times without a mid on either end are dropped."""
    ts = np.asarray(day.ts)
    open_ns = max(int(day.meta.session_open_ns), int(ts[0]))
    close_ns = min(int(day.meta.session_close_ns), int(ts[-1]))
    lo = open_ns if lo_ns is None else max(open_ns, int(lo_ns))
    hi = close_ns if hi_ns is None else min(close_ns, int(hi_ns))
    h = round(horizon_s * _NS)
    step = round(interval_s * _NS)
    first = int(day.meta.session_open_ns) + round(warmup_s * _NS)
    first = max(first, first + -(-(lo - first) // step) * step) if lo > first else first
    t = np.arange(first, hi - h + 1, step, dtype=np.int64)
    if t.size == 0:
        return t, np.zeros((0, orderflow.N_FEATURES)), np.zeros(0)
    mid = np.asarray(flow.mid)
    r0 = row_at(ts, t)
    r1 = row_at(ts, t + h)
    m0 = np.where(r0 >= 0, mid[np.maximum(r0, 0)], np.nan)
    m1 = np.where(r1 >= 0, mid[np.maximum(r1, 0)], np.nan)
    ok = np.isfinite(m0) & np.isfinite(m1)
    t = t[ok]
    return t, features_at(day, flow, t), 1e4 * np.log(m1[ok] / m0[ok])


def samples(
    catalogue: Any,
    days: Sequence[int],
    interval_s: float,
    horizon_s: float,
    warmup_s: float = 300.0,
    windows: dict[int, tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Samples of several days of ``catalogue``: columns ``day``, ``t_ns``, ``move_bps`` and one
    column per feature. ``windows`` optionally limits each day to ``(lo_ns, hi_ns)``."""
    frames = []
    for d in days:
        day = catalogue.day(d)
        flow = OrderflowArrays.for_catalogue_day(catalogue, d)
        lo, hi = (windows or {}).get(d, (None, None))
        t, x, move = day_samples(day, flow, interval_s, horizon_s, warmup_s, lo, hi)
        f = pd.DataFrame(x, columns=list(orderflow.FEATURE_NAMES))
        f.insert(0, "move_bps", move)
        f.insert(0, "t_ns", t)
        f.insert(0, "day", d)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _fit_logistic(z: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 50) -> np.ndarray:
    """Weights ``[intercept, coef...]`` minimising the mean log loss + ``l2/2 * |coef|^2 / n``
    (Newton's method; the intercept is not penalised)."""
    n, k = z.shape
    a = np.hstack([np.ones((n, 1)), z])
    w = np.zeros(k + 1)
    pen = np.full(k + 1, l2)
    pen[0] = 0.0
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + pen * w
        hess = (a * (p * (1.0 - p))[:, None]).T @ a + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w


@dataclass
class Predictor:
    """Standardisation, logistic weights for the sign and ridge weights for the size of the move."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    sign_weights: np.ndarray  # [intercept, coef...] of P(up | move != 0)
    size_weights: np.ndarray  # [intercept, coef...] of E[move_bps]
    horizon_s: float
    interval_s: float
    warmup_s: float = 300.0
    l2: float = 1.0
    trained_days: tuple[int, ...] = ()
    orderflow_version: int = orderflow.VERSION
    kind: str = "logistic"
    notes: dict = field(default_factory=dict)

    def _z(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"Predictor: inputs need shape (n, {len(self.feature_names)}), got {x.shape}")
        return (x - self.mean) / self.scale

    def prob_up(self, x: np.ndarray) -> np.ndarray:
        """``P(mid up over the horizon | it moves)`` for each feature row of ``x``."""
        w = self.sign_weights
        return 1.0 / (1.0 + np.exp(-(w[0] + self._z(x) @ w[1:])))

    def expected_move_bps(self, x: np.ndarray) -> np.ndarray:
        """Predicted move of the mid over the horizon, bps (ridge regression)."""
        w = self.size_weights
        return w[0] + self._z(x) @ w[1:]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        payload = asdict(self)
        for k in ("mean", "scale", "sign_weights", "size_weights"):
            payload[k] = [float(v) for v in payload[k]]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        payload = json.loads(Path(path).read_text())
        names = tuple(payload["feature_names"])
        if names != orderflow.FEATURE_NAMES or payload["orderflow_version"] != orderflow.VERSION:
            raise ValueError(
                f"{Path(path).name}: trained on orderflow v{payload['orderflow_version']} features {list(names)[:3]}..., "
                f"this code computes v{orderflow.VERSION} {list(orderflow.FEATURE_NAMES)[:3]}...: train it again"
            )
        for k in ("mean", "scale", "sign_weights", "size_weights"):
            payload[k] = np.asarray(payload[k], dtype=np.float64)
        payload["feature_names"] = names
        payload["trained_days"] = tuple(payload["trained_days"])
        return cls(**payload)


def fit_predictor(
    frame: pd.DataFrame, horizon_s: float, interval_s: float, warmup_s: float = 300.0, l2: float = 1.0
) -> Predictor:
    """Fit on the samples of :func:`samples` (training days only: the caller chooses them)."""
    names = orderflow.FEATURE_NAMES
    x = frame[list(names)].to_numpy(dtype=np.float64)
    move = frame["move_bps"].to_numpy(dtype=np.float64)
    if len(x) < 2 * len(names):
        raise ValueError(f"fit_predictor: {len(x)} samples is too few for {len(names)} features")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0.0] = 1.0
    z = (x - mean) / scale
    moved = move != 0.0
    sign_w = _fit_logistic(z[moved], (move[moved] > 0).astype(np.float64), l2)
    a = np.hstack([np.ones((len(z), 1)), z])
    pen = np.full(a.shape[1], l2)
    pen[0] = 0.0
    size_w = np.linalg.solve(a.T @ a + np.diag(pen), a.T @ move)
    days = tuple(int(d) for d in np.unique(frame["day"])) if "day" in frame else ()
    return Predictor(names, mean, scale, sign_w, size_w, float(horizon_s), float(interval_s), float(warmup_s),
                     float(l2), days)  # fmt: skip


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted one half); NaN without both classes."""
    score = np.asarray(score, dtype=np.float64)
    label = np.asarray(label, dtype=bool)
    n1 = int(label.sum())
    n0 = label.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(s.size)
    i = 0
    while i < s.size:  # average ranks of ties
        j = i
        while j + 1 < s.size and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = 0.5 * (i + j) + 1.0
        i = j + 1
    r = np.empty(s.size)
    r[order] = ranks
    return float((r[label].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def calibration_table(p: np.ndarray, up: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Per bin of predicted probability (equal width on [0, 1]): count, mean prediction, observed share up."""
    p = np.asarray(p, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        m = bins == b
        if m.any():
            rows.append({"bin": f"[{b / n_bins:.1f}, {(b + 1) / n_bins:.1f})", "n": int(m.sum()),
                         "mean_pred": float(p[m].mean()), "share_up": float(np.mean(up[m]))})  # fmt: skip
    return pd.DataFrame(rows)


def classification_metrics(p: np.ndarray, move_bps: np.ndarray) -> dict[str, float]:
    """Accuracy, AUC, Brier score and log loss of ``p = P(up | moves)`` on the samples that moved;
    ``zero_share`` is the share of samples without a move; ``base_rate`` the share up;
    ``ece`` the expected calibration error over 10 equal-width bins."""
    p = np.asarray(p, dtype=np.float64)
    move = np.asarray(move_bps, dtype=np.float64)
    moved = move != 0.0
    pm, up = p[moved], move[moved] > 0
    n = int(moved.sum())
    out = {"n": int(move.size), "n_moved": n, "zero_share": (move.size - n) / move.size if move.size else math.nan}
    if n == 0:
        return {**out, "accuracy": math.nan, "auc": math.nan, "brier": math.nan, "log_loss": math.nan,
                "base_rate": math.nan, "ece": math.nan}  # fmt: skip
    eps = 1e-12
    cal = calibration_table(pm, up)
    out.update(
        accuracy=float(np.mean((pm > 0.5) == up)),
        auc=auc(pm, up),
        brier=float(np.mean((pm - up) ** 2)),
        log_loss=float(-np.mean(np.where(up, np.log(pm + eps), np.log(1.0 - pm + eps)))),
        base_rate=float(np.mean(up)),
        ece=float(np.sum(cal["n"] * np.abs(cal["mean_pred"] - cal["share_up"])) / n),
    )
    return out


def walk_forward(
    catalogue: Any,
    days: Sequence[int],
    min_train: int,
    interval_s: float,
    horizon_s: float,
    warmup_s: float = 300.0,
    max_train: int | None = None,
    l2: float = 1.0,
) -> pd.DataFrame:
    """Train on ``days[:k]`` (the last ``max_train`` of them when set), predict ``days[k]``, for
    ``k = min_train .. len(days) - 1``. Days of ``days[k]``'s date (another symbol's session) are
    not trained on: their markets move together (a fold left with no training day is skipped).
    Returns the out-of-sample samples with ``fold``, ``p_up`` and ``pred_move_bps`` (plus ``day``,
    ``t_ns``, ``move_bps`` and the features)."""
    days = list(days)
    if not 1 <= min_train < len(days):
        raise ValueError(f"walk_forward: min_train = {min_train} needs 1 <= min_train < {len(days)} days")
    frame = samples(catalogue, days, interval_s, horizon_s, warmup_s)
    date = {d: catalogue.date(d) for d in days}
    out = []
    for k in range(min_train, len(days)):
        earlier = [d for d in days[:k] if date[d] != date[days[k]]]
        train_days = earlier[-max_train:] if max_train else earlier
        if not train_days:
            continue
        model = fit_predictor(frame[frame["day"].isin(train_days)], horizon_s, interval_s, warmup_s, l2)
        test = frame[frame["day"] == days[k]].copy()
        x = test[list(orderflow.FEATURE_NAMES)].to_numpy()
        test.insert(3, "p_up", model.prob_up(x))
        test.insert(4, "pred_move_bps", model.expected_move_bps(x))
        test.insert(0, "fold", k - min_train)
        out.append(test)
    return pd.concat(out, ignore_index=True)
