"""`dnbot local`: run the whole system on this machine (what `make run` starts)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from dnbot.cli import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("local", help="run everything on this machine (in-process AWS, simulated market)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve the dashboard on")
    parser.add_argument("--port", type=int, default=8080, help="dashboard and API port (0: any free port)")
    parser.add_argument("--state-dir", type=Path, default=Path(".dnbot"),
                        help="where users, settings, positions and the simulated venues are kept across restarts")
    parser.add_argument("--fresh", action="store_true", help="forget what --state-dir kept and start over")
    parser.add_argument("--data", type=Path, default=None, help="recorded data directory to replay")
    parser.add_argument("--speed", type=float, default=1.0, help="market replay speed (1 = real time)")
    parser.add_argument("--admin-email", action="append", default=[],
                        help="an email that may use the emergency stop (repeatable)")
    parser.add_argument("--live", action="store_true",
                        help="paper trading on today's market: public Hyperliquid and Asgard data, paper legs")
    parser.add_argument("--hyperliquid-url", default=None, help="--live: Hyperliquid API base URL (public /info)")
    parser.add_argument("--asgard-url", default=None, help="--live: Asgard margin-trading API base URL (markets)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dnbot.local.system import LocalSystem, port_is_free

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0-65535, got {args.port}")
    if args.speed <= 0:
        raise UsageError(f"--speed must be positive, got {args.speed}")
    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"--data {args.data} is not a directory")
    live_urls = {name: url for name, url in (("live_hyperliquid_url", args.hyperliquid_url),
                                             ("live_asgard_url", args.asgard_url)) if url is not None}
    if live_urls and not args.live:
        raise UsageError("--hyperliquid-url and --asgard-url are for --live")
    for url in live_urls.values():
        if not url.startswith(("https://", "http://")):
            raise UsageError(f"--live URLs must be http(s), got {url!r}")
    if args.live and args.data is not None:
        raise UsageError("--live reads today's market; --data replays a recording: choose one")
    if args.port and not port_is_free(args.host, args.port):
        raise UsageError(f"port {args.port} on {args.host} is in use; stop the other process or pass --port")

    system = LocalSystem(host=args.host, port=args.port, state_dir=args.state_dir, data_dir=args.data,
                         speed=args.speed, admin_emails=tuple(args.admin_email),
                         # paper legs live in this process only: a --live run starts from an empty book
                         persist=not args.live, fresh=args.fresh, say=lambda line: print(line, flush=True),
                         **({"venues": "live", **live_urls} if args.live else {}))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        system.start()
        print("dnbot local: Ctrl-C stops everything", flush=True)
        stop.wait()
    finally:
        print("dnbot local: stopping", file=sys.stderr, flush=True)
        system.stop()
    return 0
