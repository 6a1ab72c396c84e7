"""`dnbot sim`: the venue simulator on its own, for demos and for pointing real adapters at."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from dnbot.cli import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="serve simulated venues (Hyperliquid, Asgard, Solana, Privy, Arbitrum)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8090, help="port (0: any free port)")
    parser.add_argument("--data", type=Path, default=None, help="recorded data directory to replay")
    parser.add_argument("--speed", type=float, default=1.0, help="market replay speed (1 = real time)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dnbot.local.system import port_is_free
    from dnbot.marketdata.recorded import RecordedData
    from dnbot.sim.server import start_in_thread

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0-65535, got {args.port}")
    if args.speed <= 0:
        raise UsageError(f"--speed must be positive, got {args.speed}")
    if args.data is not None:
        try:
            RecordedData(args.data)
        except FileNotFoundError as missing:
            raise UsageError(str(missing)) from missing
    if args.port and not port_is_free(args.host, args.port):
        raise UsageError(f"port {args.port} on {args.host} is in use; pass another --port")
    sim = start_in_thread(args.host, args.port, args.data, args.speed)
    venues = ", ".join(f"{name} {venue.prefix}" for name, venue in sim.app.state.venues.items())
    print(f"dnbot sim: venues at {sim.base_url} ({venues}); controls at {sim.base_url}/sim", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sim.stop()
    return 0
