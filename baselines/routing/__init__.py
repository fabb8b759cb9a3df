"""Fixed routing policies for ``exec_env/Routing-v0`` (one file each); all answer SB3's ``predict``."""

from baselines.routing.base import RoutingPolicy, VenueView
from baselines.routing.cont_kukanov import ContKukanov, ck_allocate
from baselines.routing.naive import NaiveBestPrice
from baselines.routing.pro_rata import ProRata
from baselines.routing.schedules import TWAPRouted, VWAPRouted, volume_curve

__all__ = [
    "ContKukanov",
    "NaiveBestPrice",
    "ProRata",
    "RoutingPolicy",
    "TWAPRouted",
    "VWAPRouted",
    "VenueView",
    "ck_allocate",
    "volume_curve",
]
