"""TensorBoard metrics of execution quality under the ``exec/`` prefix."""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback

__all__ = ["ExecMetricsCallback"]

# metric in info["execution"] -> TensorBoard tag
_TAGS = {
    "shortfall_bps": "exec/shortfall_bps",
    "fill_rate": "exec/fill_rate",
    "maker_fraction": "exec/maker_fraction",
    "vs_twap_bps": "exec/vs_twap_bps",
    "vs_passive_twap_bps": "exec/vs_passive_twap_bps",
    "fees_bps": "exec/fees_bps",
    "n_child_orders": "exec/n_child_orders",
}


class ExecMetricsCallback(BaseCallback):
    """Averages the final ``info["execution"]`` of every finished episode into ``exec/*``.

    Values are recorded with ``record_mean`` and written whenever SB3 dumps its logs (once per
    rollout for PPO), next to ``rollout/`` and ``train/``.
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.episodes = 0

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            metrics = info.get("execution")
            if metrics is None:
                continue
            self.episodes += 1
            for key, tag in _TAGS.items():
                value = metrics.get(key)
                if value is not None:
                    self.logger.record_mean(tag, float(value))
        return True
