"""End to end: the real `dnbot local` (moto AWS, local Step Functions, replayed market data) driven through the
built dashboard in Debian's headless Chromium.

The module fixture starts `dnbot local` as a subprocess, waits for its ready line and reads the login codes it
prints; the tests click through the dashboard exactly as a user would. `make test` builds frontend/dist first.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

REPO = Path(__file__).resolve().parents[2]
DNBOT = REPO / ".venv" / "bin" / "dnbot"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY_RE = re.compile(r"dnbot local: dashboard at (http://127\.0\.0\.1:\d+)")
READY_TIMEOUT_S = 90.0
# Rates on screen: "+10.95%" / "-3.20%" (one number format everywhere: an ASCII minus, as in -$3.25).
MINUS = "-"
SIGNED_PCT_RE = re.compile(r"^[+-]?\d+\.\d+%$")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalSystem:
    """A running `dnbot local`: its URL and everything it printed (read by a background thread)."""

    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    _new: queue.Queue[str] = field(default_factory=queue.Queue)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float, *, after: int = 0) -> re.Match[str]:
        """The first line at index >= `after` matching `pattern`; fails with the output so far on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                for line in self.lines[after:]:
                    match = pattern.search(line)
                    if match:
                        return match
            if self.process.poll() is not None:
                pytest.fail(f"dnbot local exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out waiting for {pattern.pattern!r}; dnbot local printed:\n{self.output()[-4000:]}")
            with contextlib.suppress(queue.Empty):
                self._new.get(timeout=min(remaining, 0.5))

    def line_count(self) -> int:
        with self._lock:
            return len(self.lines)

    def login_code(self, email: str, *, after: int, timeout_s: float = 30.0) -> str:
        pattern = re.compile(rf"dnbot local: login code for {re.escape(email)}: (\d{{6}})\b")
        return self.wait_for(pattern, timeout_s, after=after).group(1)

    def stop(self) -> None:
        """SIGINT (a clean Ctrl-C), then SIGTERM, then SIGKILL: never leave a server behind."""
        if self.process.poll() is None:
            for sig, wait_s in ((signal.SIGINT, 15.0), (signal.SIGTERM, 10.0)):
                self.process.send_signal(sig)
                try:
                    self.process.wait(timeout=wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def dnbot_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    assert (REPO / "frontend" / "dist" / "index.html").exists(), (
        "frontend/dist is missing: run `make frontend` (make test does it) before the browser tests")
    state_dir = tmp_path_factory.mktemp("dnbot-local-state")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [str(DNBOT), "local", "--port", str(_free_port()), "--state-dir", str(state_dir)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    system = LocalSystem(process)
    threading.Thread(target=system.pump, name="dnbot-local-output", daemon=True).start()
    try:
        system.url = system.wait_for(READY_RE, READY_TIMEOUT_S).group(1)
        yield system
    finally:
        system.stop()
        sys.stderr.write(f"\n--- dnbot local output (last lines) ---\n{system.output()[-2000:]}\n")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, dnbot_local: LocalSystem) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.goto(dnbot_local.url)
    # Everything the dashboard needs is bundled and same-origin: no CDN, no web fonts, no Privy SDK in local mode.
    tab.requested_urls = requested  # type: ignore[attr-defined]
    yield tab
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def _log_in(page: Page, system: LocalSystem) -> str:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    page.get_by_role("banner").get_by_role("button", name="Connect").click()
    dialog = page.get_by_role("dialog", name="Connect with email")
    dialog.get_by_label("Email", exact=True).fill(email)
    before = system.line_count()
    dialog.get_by_role("button", name="Send code").click()
    code = system.login_code(email, after=before)
    code_dialog = page.get_by_role("dialog", name="Enter your code")
    code_dialog.get_by_label("6-digit code").fill(code)
    code_dialog.get_by_role("button", name="Verify").click()
    return email


def test_page_shows_sol_funding_and_asgard_rates(page: Page) -> None:
    funding_apy = page.get_by_test_id("funding-apy")
    # The first rates poll may still be running when the server says ready: allow it the poll interval.
    expect(funding_apy).to_have_text(SIGNED_PCT_RE, timeout=60_000)
    expect(page.get_by_test_id("funding-hourly")).to_have_text(SIGNED_PCT_RE)
    expect(page.get_by_test_id("funding-sign")).to_contain_text(re.compile(r"longs pay shorts|shorts pay longs|zero"))
    # The sign explained must agree with the number shown.
    apy_text = funding_apy.inner_text()
    sign_text = page.get_by_test_id("funding-sign").inner_text()
    if apy_text.startswith("+"):
        assert "short EARNS" in sign_text
    elif apy_text.startswith(MINUS):
        assert "short PAYS" in sign_text

    asgard = page.get_by_role("table", name="Asgard rates")
    rows = asgard.locator("tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 4, asgard.inner_text()
    table_text = asgard.inner_text()
    assert "jitoSOL" in table_text
    assert re.search(r"Kamino|Drift|marginfi|Solend", table_text)
    assert re.search(r"\d+\.\d{2}%", table_text)

    opportunities = page.get_by_role("table", name="Opportunities")
    expect(opportunities.locator("tbody tr").first).to_be_visible()
    # The leverage slider refetches the opportunities at the new leverage.
    with page.expect_response(re.compile(r"/api/v1/rates\?leverage=4\b")) as response:
        page.get_by_label("Leverage").first.fill("4")
    assert response.value.ok
    expect(opportunities.locator("tbody tr").first).to_contain_text("4x")

    requested: list[str] = page.requested_urls  # type: ignore[attr-defined]
    assert requested, "the page made no requests"
    foreign = [url for url in requested if not url.startswith(page.url.split("#")[0].rstrip("/")) and
               not url.startswith("data:")]
    assert not foreign, f"requests left the dnbot origin: {foreign}"
    assert not [url for url in requested if "privy" in url.lower()], "local mode must not load the Privy SDK"


def test_login_with_the_printed_code(page: Page, dnbot_local: LocalSystem) -> None:
    email = _log_in(page, dnbot_local)
    welcome = page.get_by_role("dialog", name=re.compile("fund your wallets", re.I))
    expect(welcome).to_be_visible()
    expect(welcome.get_by_test_id("address-solana")).to_have_text(re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"))
    expect(welcome.get_by_test_id("address-evm")).to_have_text(re.compile(r"^0x[0-9a-fA-F]{40}$"))
    expect(welcome.get_by_role("img", name=re.compile("QR code"))).to_have_count(2)
    welcome.get_by_role("button", name="Go to dashboard").click()
    expect(welcome).to_be_hidden()
    header = page.get_by_role("banner")
    expect(header.get_by_role("button", name="Deposit")).to_be_visible()
    expect(header).to_contain_text(email)
    expect(page.get_by_test_id("bot-status")).to_be_visible()

    # A wrong code is refused inline: log out, try again with a code that is not the printed one.
    header.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Disconnect").click()
    expect(header.get_by_role("button", name="Connect")).to_be_visible()
    header.get_by_role("button", name="Connect").click()
    page.get_by_label("Email", exact=True).fill(email)
    before = dnbot_local.line_count()
    page.get_by_role("button", name="Send code").click()
    real = dnbot_local.login_code(email, after=before)
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    page.get_by_label("6-digit code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("6-digit code").fill(real)
    page.get_by_role("button", name="Verify").click()
    expect(header.get_by_role("button", name="Deposit")).to_be_visible()


def test_open_position_shows_stages_and_lists_it(page: Page, dnbot_local: LocalSystem) -> None:
    _log_in(page, dnbot_local)
    page.get_by_role("button", name="Go to dashboard").click()
    expect(page.get_by_test_id("funding-apy")).to_have_text(SIGNED_PCT_RE, timeout=60_000)

    page.get_by_role("button", name="Open position", exact=True).click()
    dialog = page.get_by_role("dialog", name="Open position")
    dialog.get_by_label("Asset (long on Asgard)").select_option("jitoSOL")
    dialog.get_by_label("Protocol").select_option("")  # best available
    dialog.get_by_label("Size (USD)").fill("1000")
    dialog.get_by_role("button", name="Open position").click()

    progress = page.get_by_role("dialog", name=re.compile(r"^Opening jitoSOL"))
    expect(progress.get_by_role("status").filter(has_text="Position opened.")).to_be_visible(timeout=60_000)
    stages = progress.get_by_role("list", name="Stages").get_by_role("listitem")
    assert stages.count() >= 5
    statuses = [stages.nth(i).get_attribute("data-status") for i in range(stages.count())]
    assert set(statuses) <= {"done", "skipped"}, statuses
    names = progress.get_by_role("list", name="Stages").inner_text()
    for label in ("Preflight checks", "Open long on Asgard", "Open short on Hyperliquid"):
        assert label in names
    progress.get_by_role("button", name="Close", exact=True).last.click()

    positions = page.get_by_role("table", name="Active positions")
    row = positions.locator("tbody tr").filter(has_text="jitoSOL")
    expect(row.first).to_be_visible(timeout=15_000)
    expect(row.first).to_contain_text("open")
    expect(row.first.get_by_role("button", name="Close jitoSOL position")).to_be_visible()
    expect(page.get_by_test_id("positions-open")).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=15_000)


SCREENSHOTS = REPO / "docs" / "screenshots"
# A logged-out visitor's first GET /auth/me answers 401 (that is how the dashboard learns nobody is logged in);
# Chromium logs every 4xx resource as a console error. That one is expected; any other console error fails.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of 401")
MONEY_RE = re.compile(r"^[+-]?\$[\d,]+\.\d{2}$")


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_whole_journey_with_live_push(page: Page, dnbot_local: LocalSystem) -> None:
    """login -> deposit dialog -> launch review -> open -> stages pushed live -> live risk and PnL by source ->
    close -> history with realized PnL -> activity, with no console error on the way."""
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" and
            not EXPECTED_CONSOLE.search(m.text) else None)
    pushed: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: pushed.append(str(frame))))

    _log_in(page, dnbot_local)
    welcome = page.get_by_role("dialog", name=re.compile("fund your wallets", re.I))
    expect(welcome.get_by_test_id("address-evm")).to_be_visible()
    _shot(page, "01-deposit")
    welcome.get_by_role("button", name="Go to dashboard").click()
    expect(page.get_by_test_id("live-state")).to_have_text("live", timeout=15_000)  # pushed, not polled
    expect(page.get_by_test_id("funding-apy")).to_have_text(SIGNED_PCT_RE, timeout=60_000)

    page.get_by_role("button", name="LAUNCH STRATEGY").click()
    review = page.get_by_role("dialog", name="Launch strategy")
    expect(review.get_by_test_id("review-preset")).to_have_text("balanced")
    expect(review.get_by_test_id("review-best")).to_contain_text("net a year")
    _shot(page, "02-launch-review")
    review.get_by_role("button", name="Confirm launch").click()
    expect(page.get_by_test_id("bot-status")).to_have_text("running")
    # pause again so the scheduled tick opens nothing of its own during the rest of the journey
    page.get_by_role("button", name="PAUSE STRATEGY").click()
    page.get_by_role("dialog", name="Pause the strategy").get_by_role("button", name="Pause").click()
    expect(page.get_by_test_id("bot-status")).to_have_text("paused")

    page.get_by_role("button", name="Open position", exact=True).click()
    dialog = page.get_by_role("dialog", name="Open position")
    dialog.get_by_label("Asset (long on Asgard)").select_option("SOL")
    dialog.get_by_label("Size (USD)").fill("1200")
    preview = dialog.get_by_role("table", name="Order preview")
    expect(preview).to_contain_text("Hyperliquid margin")
    expect(preview).to_contain_text("$600.00")  # half the capital on each venue
    _shot(page, "03-open-dialog")
    dialog.get_by_role("button", name="Open position").click()
    progress = page.get_by_role("dialog", name=re.compile(r"^Opening SOL"))
    expect(progress.get_by_role("status").filter(has_text="Position opened.")).to_be_visible(timeout=60_000)
    _shot(page, "04-stages")
    assert any('"type": "job"' in frame or '"type":"job"' in frame for frame in pushed), pushed[:5]
    progress.get_by_role("button", name="Close", exact=True).last.click()

    row = page.get_by_role("table", name="Active positions").locator("tbody tr").filter(has_text="open").first
    expect(row.get_by_test_id("health-factor")).to_have_text(re.compile(r"^\d+\.\d{2}$"), timeout=20_000)
    expect(row.get_by_test_id("margin-ratio")).to_have_text(re.compile(r"^\d+\.\d%$"))
    # both legs' liquidation SOL prices; at this leverage the long (a SOL drop, on Asgard) is the nearer one
    expect(row.get_by_test_id("liquidation-price")).to_have_text(re.compile(r"^↓ \$[\d,]+\.\d{2} · ↑ \$[\d,]+\.\d{2}$"))
    expect(row.get_by_test_id("liquidation-long")).to_have_attribute("title",
                                                                     re.compile(r"Asgard liquidates .*: the nearer"))
    expect(row.get_by_test_id("liquidation-distance")).to_have_text(re.compile(r"^\d+\.\d% \(long\)$"))
    for source in ("funding_usd", "staking_usd", "lending_usd", "borrow_usd", "fees_usd", "price_usd"):
        expect(row.get_by_test_id(f"pnl-{source}")).to_have_text(MONEY_RE)
    expect(row.get_by_test_id("pnl-total")).to_have_text(MONEY_RE)
    _shot(page, "05-position")

    row.get_by_role("button", name="Close SOL position").click()
    closing = page.get_by_role("dialog", name=re.compile(r"^Close SOL"))
    closing.get_by_role("button", name="Close position").click()
    expect(closing.get_by_role("status").filter(has_text="Position closed.")).to_be_visible(timeout=60_000)
    _shot(page, "06-closed")
    closing.get_by_role("button", name="Done").click()

    page.get_by_role("tab", name="History").click()
    history = page.get_by_role("table", name="Position history")
    closed_row = history.locator("tbody tr").first
    expect(closed_row).to_contain_text("requested by user")
    expect(closed_row.get_by_test_id("realized-total")).to_have_text(MONEY_RE)
    expect(closed_row.get_by_label("PnL by source (realized)")).to_be_visible()
    _shot(page, "07-history")

    page.get_by_role("tab", name="Activity").click()
    activity = page.get_by_role("list", name="Activity")
    expect(activity.locator("li[data-kind=position_closed]").first).to_contain_text("realized")
    expect(activity.locator("li[data-kind=position_opened]").first).to_contain_text("Opened SOL")
    expect(activity.locator("li[data-kind=bot]").first).to_be_visible()
    _shot(page, "08-activity")

    page.get_by_role("navigation", name="Main").get_by_role("button", name="Charts").click()
    expect(page.get_by_role("figure", name="Account PnL by source")).to_be_visible()  # the close's realized snapshot
    expect(page.get_by_role("figure", name="Position PnL by source")).to_be_visible()
    expect(page.get_by_role("figure", name="Hyperliquid funding history")).to_be_visible()
    page.get_by_role("button", name="Run backtest").click()
    expect(page.get_by_test_id("backtest-summary")).to_contain_text("trades", timeout=60_000)
    expect(page.get_by_role("figure", name="Backtest equity").locator("canvas").first).to_be_visible()
    _shot(page, "09-charts")
    assert not console_errors, console_errors


PHONE = {"width": 390, "height": 844}


def _fits_the_width(page: Page, where: str) -> None:
    """Nothing on the page needs a sideways scroll of the whole document (a table may scroll inside its own box)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{where}: the page is {widths[0]} px wide on a {widths[1]} px phone"


def _on_screen(locator: Locator, what: str) -> None:
    """The element lies within the phone's width: reachable without a sideways scroll."""
    box = locator.bounding_box()
    assert box is not None, what
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{what} is off-screen: {box}"


def _inside(dialog: Locator, cells: Locator, what: str) -> None:
    """Every cell ends inside the dialog's right edge: none is cut off by it (a dialog scrolls only vertically)."""
    expect(cells.first).to_be_visible()
    dialog_box = dialog.bounding_box()
    assert dialog_box is not None
    for i in range(cells.count()):
        box = cells.nth(i).bounding_box()
        assert box is not None and box["x"] + box["width"] <= dialog_box["x"] + dialog_box["width"] + 0.5, (
            f"{what}: {cells.nth(i).inner_text()!r} is cut off: {box} in {dialog_box}")


def test_a_phone_reaches_the_position_its_risk_and_close_without_scrolling_sideways(
        browser: Browser, dnbot_local: LocalSystem) -> None:
    """390 x 844: a position is a card (its Close button, both liquidation prices and PnL inside the screen), and no
    screen (dashboard, history, charts, settings) is wider than the phone."""
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto(dnbot_local.url)
        _log_in(page, dnbot_local)
        welcome = page.get_by_role("dialog", name=re.compile("fund your wallets", re.I))
        _inside(welcome, welcome.get_by_role("table", name="Deposit plan").locator("td"), "deposit plan")
        page.get_by_role("button", name="Go to dashboard").click()
        expect(page.get_by_test_id("funding-apy")).to_have_text(SIGNED_PCT_RE, timeout=60_000)
        # the best opportunity's net APY and its Open button are on screen, not behind a sideways scroll
        best = page.get_by_role("table", name="Opportunities").locator("tbody tr").first
        open_best = best.get_by_role("button", name=re.compile("^Open "))
        _on_screen(best.locator("td.strong"), "net APY")
        _on_screen(open_best, "Open")
        page.get_by_role("button", name="Open position", exact=True).first.click()
        dialog = page.get_by_role("dialog", name="Open position")
        dialog.get_by_label("Asset (long on Asgard)").select_option("SOL")
        dialog.get_by_label("Size (USD)").fill("800")
        figures = dialog.get_by_role("table", name="Order preview").locator("td")
        expect(figures.first).to_have_text(MONEY_RE)
        _inside(dialog, figures, "order preview")
        dialog.get_by_role("button", name="Open position").click()
        progress = page.get_by_role("dialog", name=re.compile(r"^Opening SOL"))
        expect(progress.get_by_role("status").filter(has_text="Position opened.")).to_be_visible(timeout=60_000)
        progress.get_by_role("button", name="Close", exact=True).last.click()

        row = page.get_by_role("table", name="Active positions").locator("tbody tr").filter(has_text="open").first
        both_prices = re.compile(r"^↓ \$[\d,]+\.\d{2} · ↑ \$[\d,]+\.\d{2}$")
        expect(row.get_by_test_id("liquidation-price")).to_have_text(both_prices, timeout=20_000)
        close = row.get_by_role("button", name="Close SOL position")
        close.scroll_into_view_if_needed()
        for what, locator in (("Close button", close), ("liquidation prices", row.get_by_test_id("liquidation-price")),
                              ("PnL", row.get_by_test_id("pnl-total")), ("fees", row.get_by_test_id("pnl-fees_usd"))):
            _on_screen(locator, what)
        _fits_the_width(page, "dashboard")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.get_by_role("table", name="Active positions").screenshot(path=str(SCREENSHOTS / "10-phone-position.png"))

        page.get_by_role("tab", name="History").click()
        history = page.get_by_role("table", name="Position history")
        expect(history.or_(page.get_by_text("No closed positions yet."))).to_be_visible()
        _fits_the_width(page, "history")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("button", name="Charts").click()
        run = page.get_by_role("button", name="Run backtest")
        expect(run).to_be_visible()
        _on_screen(run, "Run backtest")
        _fits_the_width(page, "charts")
        nav.get_by_role("button", name="Settings").click()
        expect(page.get_by_role("button", name="Send a test message")).to_be_visible()
        page.get_by_text("Everything the bot uses").click()
        expect(page.get_by_text("Close once the position is this far down from its peak")).to_be_visible()
        _fits_the_width(page, "settings")
    finally:
        context.close()


def test_usdc_on_its_way_is_shown_in_the_balances_card(page: Page, dnbot_local: LocalSystem) -> None:
    """The built dashboard renders GET /balances' transfers (the real answer, with one overdue transfer added: the
    paper venues of `dnbot local` never bridge; tests/integration/test_balances_in_transit.py covers the server),
    and drops the line once the server lists none (balances are re-read every 10 s while a transfer moves)."""
    overdue = {"transfer_id": "p1:2:to_short", "direction": "to_short", "source": "Solana wallet",
               "destination": "Hyperliquid", "amount_usd": "300.000000", "arriving_usd": "299.950000",
               "state": "needs_attention", "stage": "attested", "since": "2026-12-01T14:02:00+00:00",
               "overdue": True, "operator_alerted": True}

    def with_a_transfer(route: Route) -> None:
        answer = route.fetch()
        body = {**answer.json(), "transfers": [overdue], "in_transit_usd": "300.000000"}
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/api/v1/balances", with_a_transfer)
    _log_in(page, dnbot_local)
    page.get_by_role("button", name="Go to dashboard").click()
    card = page.get_by_role("region", name="Wallet balances")
    line = card.get_by_test_id("transfer-on-its-way")
    expect(line).to_contain_text(re.compile(r"USDC on its way: \$300\.00 Solana wallet → Hyperliquid \(since .+\)"))
    expect(line).to_contain_text("Taking longer than usual: the operator has been alerted.")
    expect(line).to_have_class(re.compile(r"\bwarning\b"))
    page.unroute("**/api/v1/balances")
    expect(card.get_by_test_id("transfer-on-its-way")).to_have_count(0, timeout=20_000)
    expect(card.get_by_role("table", name="Wallet balances")).to_be_visible()
