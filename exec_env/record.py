"""Record an exchange's order book and trades: ``python -m exec_env.record BTCUSDT --duration 1h``.

Writes Binance raw captures (``<local_ts_ns> <json>`` lines, gzip) into ``--out``, one file per
UTC day (and more when a file reaches ``--max-mb``), each loadable alone with
``exec_env.market.sources.load_market`` (pass ``on_gap="resync"`` for files with a reconnect or a
sequence gap). A progress line is printed every ``--progress-every`` seconds; Ctrl-C or SIGTERM
stops cleanly (the open file is closed and renamed, exit status 0). Also installed as the ``exec-env-record`` command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import Sequence

from exec_env.recorder import EXCHANGES, RecordStats, make_exchange, normalize_symbol, record_async

__all__ = ["main", "parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float | None:
    """``"90"``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` -> seconds; ``"forever"`` -> None."""
    if text == "forever":
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: expected a positive number with an optional unit s, m, h or d "
            "(e.g. 90s, 15m, 2h, 1d), or 'forever'"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m exec_env.record",
        description="Record an exchange's order book (REST snapshot + every depth diff) and trades into raw "
        "capture files that exec_env.market.load_market reads.",
    )
    p.add_argument("symbol", help="instrument, e.g. BTCUSDT or BTC/USDT")
    p.add_argument(
        "--duration",
        type=parse_duration,
        default=None,
        help="how long to record: 90s, 15m, 2h, 1d or 'forever' (default: until Ctrl-C)",
    )
    p.add_argument("--out", default="data/capture", help="folder for the capture files (default: data/capture)")
    p.add_argument("--exchange", choices=sorted(EXCHANGES), default="binance", help="exchange (default: binance)")
    p.add_argument(
        "--max-mb",
        type=float,
        default=4096.0,
        help="start a new file after this many MB of uncompressed lines (default: 4096)",
    )
    p.add_argument("--no-compress", action="store_true", help="write plain text instead of gzip")
    p.add_argument("--book-ticker", action="store_true", help="also record the bookTicker stream (best bid/offer)")
    p.add_argument(
        "--trade-stream", choices=("trade", "aggTrade"), default="trade", help="trade stream (default: trade)"
    )
    p.add_argument("--depth-limit", type=int, default=1000, help="levels a side in REST snapshots (default: 1000)")
    p.add_argument("--ws-url", default=None, help="websocket base URL (default: the exchange's public endpoint)")
    p.add_argument("--rest-url", default=None, help="REST base URL (default: the exchange's public endpoint)")
    p.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress lines (default: 10)")
    return p


def _print_progress(stats: RecordStats) -> None:
    print(stats.line(), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        symbol = normalize_symbol(args.symbol)
    except ValueError as exc:
        _parser().error(str(exc))
    options = {"trade_stream": args.trade_stream, "book_ticker": args.book_ticker, "depth_limit": args.depth_limit}
    if args.ws_url:
        options["ws_base"] = args.ws_url
    if args.rest_url:
        options["rest_base"] = args.rest_url
    try:
        exchange = make_exchange(args.exchange, **options)
    except ValueError as exc:
        _parser().error(str(exc))
    if not args.max_mb > 0:
        _parser().error(f"--max-mb={args.max_mb} is invalid; expected a number > 0")
    until = "Ctrl-C" if args.duration is None else f"{args.duration:g} s"
    print(f"recording {symbol} from {exchange.stream_url(symbol)} into {args.out} until {until}", file=sys.stderr)

    received: list[str] = []

    async def run() -> RecordStats:
        # Ctrl-C and SIGTERM end the recording like its deadline: the open file is closed and renamed
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, not main thread
                loop.add_signal_handler(sig, lambda sig=sig: (received.append(sig.name), stop.set()))
        return await record_async(
            exchange,
            symbol,
            args.out,
            args.duration,
            max_bytes=int(args.max_mb * 1e6),
            compress=not args.no_compress,
            progress=_print_progress,
            progress_every_s=args.progress_every,
            stop=stop,
        )

    try:
        stats = asyncio.run(run())
    except KeyboardInterrupt:  # where signal handlers cannot be set: the files are closed all the same
        print("interrupted; the files written are complete", file=sys.stderr)
        return 130
    if received:
        print(f"stopped by {received[0]}", file=sys.stderr)
    print(f"{len(stats.files)} file(s):", *stats.files, sep="\n  ", file=sys.stderr)
    if stats.gaps or stats.disconnects:
        print(
            f"{stats.gaps} sequence gap(s), {stats.disconnects} disconnect(s): load with on_gap='resync'",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
