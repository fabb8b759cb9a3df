"""Record live order books and trades into the raw capture format that ``load_market`` reads.

``python -m exec_env.record BTCUSDT --duration 1h`` (see :mod:`exec_env.record`), or from Python::

    from exec_env.recorder import BinanceSpot, record
    stats = record(BinanceSpot(), "BTCUSDT", "data/binance", duration_s=3600)
    # stats.files: the capture files; load them with exec_env.market.sources.load_market(...)

Parts: :mod:`~exec_env.recorder.exchange` (URLs, message kinds and sequence rules per exchange),
:mod:`~exec_env.recorder.book` (the local book, in sync by the loader's rules),
:mod:`~exec_env.recorder.writer` (files, stamps, rotation) and :mod:`~exec_env.recorder.session`
(the websocket/REST loop). The websocket client needs the ``record`` extra:
``pip install 'exec_env[record]'``.
"""

from __future__ import annotations

from exec_env.recorder.book import LocalBook
from exec_env.recorder.exchange import EXCHANGES, BinanceSpot, Exchange, make_exchange, normalize_symbol
from exec_env.recorder.session import RecordStats, record, record_async
from exec_env.recorder.writer import CaptureWriter

__all__ = [
    "EXCHANGES",
    "BinanceSpot",
    "CaptureWriter",
    "Exchange",
    "LocalBook",
    "RecordStats",
    "make_exchange",
    "normalize_symbol",
    "record",
    "record_async",
]
