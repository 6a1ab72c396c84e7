"""Assembles the embedded default: in-process AWS, the runtime, the scheduler, and the API + dashboard."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import uvicorn

from dnbot import resources
from dnbot.adapters.aws.kms import KmsAuthorizationSigner
from dnbot.api.app import create_app
from dnbot.local.alerts import TerminalAlerts
from dnbot.local.cloud import LocalCloud
from dnbot.local.controls import CONTROL_HEADER, schedule_route
from dnbot.local.faucet import FundedLocalWallets
from dnbot.local.functions import LocalFunctions, repo_root
from dnbot.local.identity import LocalEmailCodes
from dnbot.local.live import LocalSockets, StreamPump, live_route
from dnbot.local.paper import PaperHyperliquidAccounts, PaperVenues, ReplayMarkets
from dnbot.local.paper_live import ASGARD_URL, HYPERLIQUID_URL, LivePaperVenues
from dnbot.local.persistence import LocalState
from dnbot.local.queues import LocalQueueRunner
from dnbot.local.scheduler import LocalScheduler
from dnbot.marketdata.recorded import RecordedData
from dnbot.observability import send_metrics_to
from dnbot.runtime import Runtime, install
from dnbot.services.deposits import DepositPlanner, SweepReport
from dnbot.settings import Settings
from dnbot.sim.privy import SimPrivyApp
from dnbot.sim.server import RunningSim, start_in_thread
from dnbot.sim.world import SimWorld

# The local Privy app and Asgard key exist only inside this process's simulator.
LOCAL_PRIVY_APP_ID = "dnbot-local"
LOCAL_PRIVY_APP_SECRET = "dnbot-local-secret"
LOCAL_ASGARD_API_KEY = "dnbot-local"
# What `dnbot local --live` schedules: the market and the strategy, not the venue-account jobs.
LIVE_SCHEDULES = ("rates_poller", "strategy_tick", "pnl_snapshots")
# The functions' CloudWatch EMF metric lines, one JSON object a line, in the state directory.
METRICS_FILE = "metrics.jsonl"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as uvicorn binds: a port whose old sockets sit in TIME_WAIT after Ctrl-C is free to serve again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wallet_secret(state_dir: Path) -> bytes:
    """Per-checkout secret from which local wallets derive: same users, same addresses, every run."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "local-wallet-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return bytes.fromhex(path.read_text().strip())


# a local address no one listens on (port 9, discard): connection refused at once
PAPER_NOWHERE = "http://127.0.0.1:9"


@dataclass
class LocalSystem:
    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path = Path(".dnbot")
    data_dir: Path | None = None
    speed: float = 1.0
    scheduled: bool = True  # run the EventBridge schedules (tests drive handlers themselves)
    say: Callable[[str], None] = print
    admin_emails: tuple[str, ...] = ()
    url: str = ""
    runtime: Runtime | None = None
    cloud: LocalCloud | None = None
    functions: LocalFunctions = field(default_factory=LocalFunctions)
    # "sim": the production adapters against the venue simulator (what `dnbot local` runs); "paper": the
    # replayed market and paper venues without any wire protocol (fast tests that inject adapter failures)
    # "live" (`dnbot local --live`): today's public market data from the venues (no keys), paper legs
    venues: Literal["sim", "paper", "live"] = "sim"
    bridge_rebalance: bool = True  # rebalances may move USDC over the (simulated) CCTP bridge; False: shrink only
    live_hyperliquid_url: str = HYPERLIQUID_URL  # --live's public endpoints (tests: the simulator's)
    live_asgard_url: str = ASGARD_URL
    paper: PaperVenues | None = None
    markets: ReplayMarkets | None = None
    sim: RunningSim | None = None
    world: SimWorld | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _scheduler: LocalScheduler | None = None
    queues: LocalQueueRunner | None = None  # the SQS consumers (the tick's fan-out), always running
    alerts: TerminalAlerts | None = None
    sockets: LocalSockets | None = None
    _stream: StreamPump | None = None
    # keep users, settings, positions and the simulated venues in state_dir across restarts (`dnbot local`);
    # `fresh` forgets what was kept. Tests start from nothing.
    persist: bool = False
    fresh: bool = False
    _state: LocalState | None = None

    def start(self) -> str:
        started = time.monotonic()
        # The EMF lines a Lambda prints for CloudWatch would drown this terminal's lines and ALERTs: to a file.
        send_metrics_to(self.state_dir / METRICS_FILE)
        self.cloud = LocalCloud(self.functions).start()
        saved = self._restore_cloud() if self.persist and self.venues == "sim" else None
        self.world = SimWorld.create(RecordedData(self.data_dir) if self.data_dir else None, speed=self.speed,
                                     start=saved["clock"]["start"] if saved else None)
        if saved:
            LocalState.restore_clock(self.world, saved)
        common = {
            "environment": "local", "aws_region": "us-east-1", "aws_endpoint_url": self.cloud.endpoint_url,
            "open_state_machine_arn": self.cloud.state_machine_arns["open_position"],
            "close_state_machine_arn": self.cloud.state_machine_arns["close_position"],
            "withdraw_state_machine_arn": self.cloud.state_machine_arns["withdraw"],
            "rebalance_state_machine_arn": self.cloud.state_machine_arns["rebalance_position"],
            "envelope_key_id": self.cloud.envelope_key_id,
            "privy_authorization_key_id": self.cloud.privy_authorization_key_id,
            "identity_provider": "local", "cookie_secure": False, "admin_emails": self.admin_emails,
            "user_queue_url": self.cloud.queue_urls[resources.USER_QUEUE.logical_id],
            "notification_queue_url": self.cloud.queue_urls[resources.NOTIFICATION_QUEUE.logical_id],
            "reconcile_queue_url": self.cloud.queue_urls[resources.RECONCILE_QUEUE.logical_id],
            "notifications_allow_loopback_http": True,  # a trader may try webhooks with a local listener
            "websocket_url": "/live",  # served by this process (see local/live.py), same origin as the dashboard
        }
        runtime = {"sim": self._sim_runtime, "paper": self._paper_runtime, "live": self._live_runtime}[
            self.venues](common)
        if saved and self.sim is not None:
            LocalState.restore_sim(self.world, self.sim.app.state.venues, saved)
        self.sockets = LocalSockets()
        runtime.override(pusher=self.sockets)
        self.alerts = TerminalAlerts(self.say)  # the operator's alerts, printed here (SNS in AWS)
        runtime.override(alerts=self.alerts)
        from dnbot.adapters.aws.withdrawals import TerminalCodeSender

        runtime.override(withdrawal_codes=TerminalCodeSender(self.say))  # "withdrawal code for EMAIL: NNNNNN"
        install(runtime)
        self.runtime = runtime
        # Like Lambda's event source mappings, the queue consumers run whether or not the schedules do.
        self.queues = LocalQueueRunner(
            self.cloud.client("sqs"), {q.logical_id: self.cloud.queue_urls[q.logical_id] for q in resources.QUEUES},
            self.functions, on_error=lambda name, e: self.say(f"dnbot local: {name} failed: {e}"))
        self.queues.start()
        self._scheduler = LocalScheduler(self.functions, runtime.clock.now,
                                         on_error=lambda name, e: self.say(f"dnbot local: {name} failed: {e}"))
        if self.scheduled:
            # --live: the reconciler and the deposit sweep would compare paper legs with real venue accounts
            # and read real chains; only the market-facing schedules run.
            self._scheduler.start(LIVE_SCHEDULES if self.venues == "live" else None)
        else:
            self._scheduler.run_once("rates_poller")
        app = create_app(runtime, static_dir=self._dashboard_dir())
        app.router.routes.insert(0, live_route(lambda: runtime, self.sockets))  # before the dashboard's "/"
        # POST /local/schedules/<name>/run: replies once the run's fan-out (queues) is done
        app.router.routes.insert(0, schedule_route(self._scheduler, self.queues.wait_idle))
        self._serve(app)
        self._stream = self._start_stream_pump()
        if self._state is not None and self.sim is not None:
            self.save_state()  # the restored (or fresh) state is on disk from the first minute
            self._state.autosave(self.save_state)
        self.say(f"dnbot local: AWS endpoint (in-process moto) at {self.cloud.endpoint_url} -- e.g. "
                 f"aws ssm put-parameter --name {resources.KILL_SWITCH_PARAMETER} --value close-all --overwrite "
                 f"--endpoint-url {self.cloud.endpoint_url} --region us-east-1 (any access key)")
        if self.sim is not None:
            self.say(f"dnbot local: venue simulator at {self.sim.base_url} "
                     f"(faults: POST {self.sim.base_url}/sim/faults)")
        else:
            self.say("dnbot local: venue simulator: none (paper venues)")
        self.say(f"dnbot local: run a schedule now (e.g. the reconciler): POST "
                 f"{self.url}/local/schedules/reconciler/run with the header '{CONTROL_HEADER}: 1'")
        self.say(f"dnbot local: dashboard at {self.url} (ready in {time.monotonic() - started:.1f} s)")
        self.say("dnbot local: to log in, click Connect and enter any email; its 6-digit code is printed here "
                 "(new users get demo USDC on both venues)")
        return self.url

    def _sim_runtime(self, common: dict[str, Any]) -> Runtime:
        """Every venue through its production adapter, pointed at the in-process simulator."""
        assert self.cloud is not None and self.world is not None
        signer = KmsAuthorizationSigner(self.cloud.client("kms"), self.cloud.privy_authorization_key_id)
        app = SimPrivyApp(LOCAL_PRIVY_APP_ID, LOCAL_PRIVY_APP_SECRET, signer.public_key_base64())
        self.sim = sim = start_in_thread(world=self.world, privy_apps=[app])
        settings = Settings(
            **common, market_source="sim",
            hyperliquid_base_url=sim.url("hyperliquid"), asgard_base_url=sim.url("asgard"),
            asgard_api_key=LOCAL_ASGARD_API_KEY, solana_rpc_url=sim.url("solana"),
            arbitrum_rpc_url=sim.url("arbitrum"), privy_base_url=sim.url("privy"), iris_url=sim.url("iris"),
            bridge_rebalance=self.bridge_rebalance,
            privy_app_id=LOCAL_PRIVY_APP_ID, privy_app_secret=LOCAL_PRIVY_APP_SECRET,
        )
        runtime = Runtime(settings, clock=self.world.clock, boto_session=self.cloud.session())
        return runtime.override(
            identity=LocalEmailCodes(runtime.session_store, runtime.clock.now, self._announce_code),
            wallets=FundedLocalWallets(runtime.privy_wallets, sim.base_url, on_funded=lambda user_id, address:
                                       runtime.deposit_sweep.sweep(user_id, address, SweepReport())),
        )

    def _paper_runtime(self, common: dict[str, Any]) -> Runtime:
        assert self.cloud is not None and self.world is not None
        # paper venues speak no wire protocol: a part that still reaches for a venue (a Hyperliquid withdrawal's
        # balance read) must fail here, at once, and never reach the real venue over the internet
        settings = Settings(**common, market_source="replay", hyperliquid_base_url=PAPER_NOWHERE,
                            asgard_base_url=PAPER_NOWHERE, solana_rpc_url=PAPER_NOWHERE,
                            arbitrum_rpc_url=PAPER_NOWHERE, privy_base_url=PAPER_NOWHERE, iris_url=PAPER_NOWHERE)
        runtime = Runtime(settings, clock=self.world.clock, boto_session=self.cloud.session())
        self.markets = markets = ReplayMarkets(self.world)
        self.paper = paper = PaperVenues(self.world)
        from dnbot.local.wallets import DerivedLocalWallets

        wallets = DerivedLocalWallets(_wallet_secret(self.state_dir))
        return runtime.override(
            lending_markets=markets, funding_source=markets, long_venue=paper, short_venue=paper,
            capital=paper, risk=paper, balances=paper, rebalance_in_place=False,
            stake_pools=None,  # no chain to read: the LST peg keeps the market-based reference
            # paper users have no Arbitrum wallet: no ETH, and no call to a real Arbitrum node
            deposit_planner=DepositPlanner(paper, lambda address: Decimal(0)),
            identity=LocalEmailCodes(runtime.session_store, runtime.clock.now, self._announce_code),
            wallets=wallets,
            hyperliquid_accounts=PaperHyperliquidAccounts(paper, lambda address: next(
                (user_id for user_id in paper.user_ids() if wallets.wallets_for(user_id).evm_address == address),
                None)),
        )

    def _live_runtime(self, common: dict[str, Any]) -> Runtime:
        """Public market data from the venues themselves (read adapters, no keys), legs on paper at live prices."""
        assert self.cloud is not None and self.world is not None
        settings = Settings(**common, market_source="venues", hyperliquid_base_url=self.live_hyperliquid_url,
                            asgard_base_url=self.live_asgard_url)
        runtime = Runtime(settings, boto_session=self.cloud.session())  # the real clock: today's market
        self.paper = paper = LivePaperVenues(self.world, runtime.funding_source, runtime.clock.now)
        from dnbot.local.wallets import DerivedLocalWallets

        self.say(f"dnbot local: live paper mode: rates from {self.live_hyperliquid_url} and {self.live_asgard_url} "
                 "(public data, no keys); every leg is a paper fill at the live SOL price")
        return runtime.override(
            long_venue=paper, short_venue=paper, capital=paper, risk=paper, balances=paper, rebalance_in_place=False,
            identity=LocalEmailCodes(runtime.session_store, runtime.clock.now, self._announce_code),
            wallets=DerivedLocalWallets(_wallet_secret(self.state_dir)),
        )

    def _dashboard_dir(self) -> Path | None:
        dist = repo_root() / "frontend" / "dist"
        if (dist / "index.html").exists():
            return dist
        self.say("dnbot local: frontend/dist is missing (run `make frontend`); serving the API only")
        return None

    def _serve(self, app: object) -> None:
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", lifespan="off")  # type: ignore[arg-type]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        bound = self._server.servers[0].sockets[0].getsockname()
        self.url = f"http://{bound[0]}:{bound[1]}"

    def _restore_cloud(self) -> dict[str, Any] | None:
        assert self.cloud is not None
        self._state = LocalState(self.state_dir)
        if self.fresh:
            self._state.forget()
        try:
            saved = self._state.load()
            if saved is not None:
                LocalState.restore_cloud(self.cloud, saved)
        except Exception as error:  # an unreadable file must not keep a trader from starting
            self.say(f"dnbot local: could not restore {self._state.path} ({error}); starting fresh "
                     "(the file is kept as .unreadable)")
            self._state.path.replace(self._state.path.with_suffix(".unreadable"))
            return None
        if saved is None:
            self.say(f"dnbot local: fresh start; users, settings, positions and the simulated venues are kept in "
                     f"{self._state.path} (--fresh forgets them)")
            return None
        items = saved["dynamodb"]
        users = sum(1 for i in items if i.get("sk", {}).get("S") == "PROFILE")
        positions = sum(1 for i in items if i.get("sk", {}).get("S", "").startswith("POSITION#"))
        self.say(f"dnbot local: restored {users} users and {positions} positions from {self._state.path} "
                 "(--fresh starts over)")
        return saved

    def save_state(self) -> None:
        if self._state is not None and self.cloud is not None and self.world is not None and self.sim is not None:
            self._state.save(self.cloud, self.world, self.sim.app.state.venues)

    def _start_stream_pump(self) -> StreamPump:
        assert self.cloud is not None
        table = self.cloud.client("dynamodb").describe_table(TableName=resources.STATE_TABLE.local_name)["Table"]
        pump = StreamPump(self.cloud.client("dynamodbstreams"), table["LatestStreamArn"],
                          lambda event: self.functions.invoke("ws_broadcast", event))
        pump.start()
        return pump

    def _announce_code(self, email: str, code: str) -> None:
        self.say(f"dnbot local: login code for {email}: {code}")

    def stop(self) -> None:
        if self._state is not None:
            self._state.stop_autosave()
            try:
                self.save_state()
            except Exception as error:  # the autosave of the last minute is still there
                self.say(f"dnbot local: could not save the local state: {error}")
        if self._stream is not None:
            self._stream.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        if self.queues is not None:
            self.queues.stop()
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
        if self.sim is not None:
            self.sim.stop()
        if self.cloud is not None:
            self.cloud.stop()
        install(None)
        send_metrics_to(None)
