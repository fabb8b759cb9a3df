"""Brokers an executor works through: the interface, a simulated venue, and a ccxt adapter.

``SimulatedBroker`` replays the canonical market through the env's simulator; ``CcxtBroker``
(``pip install exec_env[ccxt]``) drives a crypto exchange and is imported from
``exec_env.broker.ccxt_adapter`` so that ccxt stays optional.
"""

from exec_env.broker.interface import (
    BrokerAPI,
    BrokerDisconnected,
    BrokerError,
    BrokerReject,
    BrokerTimeout,
    CommissionSchedule,
    Fill,
    MarketData,
    MarketHours,
    OrderRequest,
    OrderState,
    OwnImpact,
    Position,
    Quote,
)
from exec_env.broker.simulated import SimulatedBroker

__all__ = [
    "BrokerAPI",
    "BrokerDisconnected",
    "BrokerError",
    "BrokerReject",
    "BrokerTimeout",
    "CommissionSchedule",
    "Fill",
    "MarketData",
    "MarketHours",
    "OrderRequest",
    "OrderState",
    "OwnImpact",
    "Position",
    "Quote",
    "SimulatedBroker",
]
