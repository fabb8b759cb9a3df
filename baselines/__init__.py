"""Fixed execution policies, run through the same environment as the learning agents."""

from baselines.base import ConstantActionPolicy
from baselines.immediate import Immediate
from baselines.twap import TWAP

__all__ = ["BASELINES", "TWAP", "ConstantActionPolicy", "Immediate"]

BASELINES = {"TWAP": TWAP, "Immediate": Immediate}
