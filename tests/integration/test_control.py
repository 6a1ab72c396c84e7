"""The controls as a trader and an operator use them, through the running product: settings, the kill switch
against opens, and the operator's audit trail."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dnbot.domain.assets import Asset
from dnbot.domain.kill_switch import KillSwitch
from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

OPERATOR = "operator@example.com"  # conftest's admin email


@pytest.fixture(scope="module")
def gus(system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(system, terminal, "gus@example.com")


@pytest.fixture(scope="module")
def operator(system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(system, terminal, OPERATOR)


def _user_id(client: Client) -> str:
    return str(client.get("/api/v1/auth/me").json()["user"]["user_id"])


def test_a_manual_open_under_the_kill_switch_is_refused_at_once(system: LocalSystem, gus: Client,
                                                                operator: Client) -> None:
    """No failed position in the user's history, no failed execution on the operator's board, no back-off of
    the user's bot once the switch is off again: the API says no before anything is recorded."""
    system.functions.invoke("rates_poller", {})
    before = [p["position_id"] for p in gus.get("/api/v1/positions").json()["positions"]]
    for value in ("no-new-positions", "close-all"):
        assert operator.post("/api/v1/control/kill-switch", {"value": value}).status_code == 200
        try:
            reply = gus.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "500"})
        finally:
            assert operator.post("/api/v1/control/kill-switch", {"value": "off"}).status_code == 200
        assert reply.status_code == 409, reply.text
        assert reply.json()["error"]["code"] == "kill_switch"
        assert f"kill switch is {value}" in reply.json()["error"]["message"]
    assert [p["position_id"] for p in gus.get("/api/v1/positions").json()["positions"]] == before
    status = gus.get("/api/v1/status").json()
    assert (status["failed_opens"], status["open_backoff_until"]) == (0, None)


def test_an_open_the_kill_switch_stops_mid_way_does_not_back_the_bot_off(system: LocalSystem,
                                                                         gus: Client) -> None:
    """An open already started (by the tick) when the operator flips the switch is refused by its Preflight;
    that is the operator's call, not a venue failing: the user's automatic opens are not backed off for it."""
    assert system.runtime is not None
    system.functions.invoke("rates_poller", {})
    snapshot = system.runtime.store.latest_snapshot()
    assert snapshot is not None
    market = next(m for m in snapshot.markets if m.asset is Asset.SOL)
    system.runtime.kill_switch.set_kill_switch(KillSwitch.NO_NEW_POSITIONS)
    try:
        job = system.runtime.positions.start_open(_user_id(gus), Asset.SOL, market.protocol, Decimal(3),
                                                  Decimal(750), "strategy: test")
        done = gus.wait_job(job.job_id)
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)
    assert done["status"] == "failed" and "kill switch is no-new-positions" in done["error"], done
    status = gus.get("/api/v1/status").json()
    assert (status["failed_opens"], status["open_backoff_until"]) == (0, None)


def test_settings_amounts_are_plain_numbers(gus: Client) -> None:
    """An amount typed in exponent form is saved, shown and written to the activity as a plain number."""
    try:
        saved = gus.post("/api/v1/settings", {"preset": "aggressive", "leverage": "4", "max_position_usd": "1e3"})
        assert saved.status_code == 200, saved.text
        assert saved.json()["max_position_usd"] == "1000"
        assert gus.get("/api/v1/settings").json()["max_position_usd"] == "1000"
        line = gus.get("/api/v1/activity?limit=1").json()["events"][0]["message"]
        assert line == "Settings saved: aggressive preset, 4x, at most $1000 per position."
    finally:
        assert gus.post("/api/v1/settings/reset").status_code == 200


def test_a_settings_body_without_its_preset_is_refused_and_changes_nothing(gus: Client) -> None:
    """Settings are replaced whole: a body with only a leverage used to reset the preset to balanced silently."""
    try:
        assert gus.post("/api/v1/settings", {"preset": "conservative", "leverage": "2"}).status_code == 200
        refused = gus.post("/api/v1/settings", {"leverage": "2.5"})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", refused.text
        kept = gus.get("/api/v1/settings").json()
        assert (kept["preset"], kept["leverage"]) == ("conservative", "2")
    finally:
        assert gus.post("/api/v1/settings/reset").status_code == 200


def test_a_refused_kill_switch_attempt_is_in_the_operators_audit_trail(system: LocalSystem, gus: Client,
                                                                       operator: Client) -> None:
    """A non-operator pressing the emergency stop or setting the switch gets a 403 and changes nothing; the
    operator sees the attempt (who, from where, what) in the audit trail, beside the changes."""
    assert system.runtime is not None
    for path, body in (("/api/v1/control/kill-switch", {"value": "close-all"}),
                       ("/api/v1/control/emergency-stop", None)):
        refused = gus.post(path, body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_an_operator"
    assert system.runtime.kill_switch.kill_switch(fresh=True) is KillSwitch.OFF
    assert gus.get("/api/v1/operator/audit").status_code == 403
    entries = operator.get("/api/v1/operator/audit").json()["entries"]
    refusals = [(e["action"], e["detail"]) for e in entries if e["user_id"] == _user_id(gus)
                and e["action"].endswith("_refused")]
    assert refusals[:2] == [("emergency_stop_refused", {"kill_switch": "close-all"}),
                            ("kill_switch_refused", {"kill_switch": "close-all"})]


def test_a_settings_change_says_what_it_does_to_an_open_position(system: LocalSystem, gus: Client) -> None:
    """The open position keeps its size and leverage (only new opens use the new settings); from the next tick
    the new preset's exits watch it: the activity line says so when a position is open."""
    system.functions.invoke("rates_poller", {})
    job = gus.wait_job(gus.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "500"}).json()["job_id"])
    assert job["status"] == "succeeded", job
    try:
        assert gus.post("/api/v1/settings", {"preset": "conservative", "leverage": "2"}).status_code == 200
        line = gus.get("/api/v1/activity?limit=1").json()["events"][0]["message"]
        assert line == ("Settings saved: conservative preset, 2x, at most $25000 per position. Your open position "
                        "keeps its size and leverage; from the next tick the conservative preset's exits watch it.")
        position = gus.get(f"/api/v1/positions/{job['position_id']}").json()
        assert (position["status"], position["leverage"]) == ("open", "3")
    finally:
        closed = gus.wait_job(gus.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"])
        assert closed["status"] == "succeeded", closed
        assert gus.post("/api/v1/settings/reset").status_code == 200
    assert gus.post("/api/v1/settings", {"preset": "balanced"}).status_code == 200
    line = gus.get("/api/v1/activity?limit=1").json()["events"][0]["message"]
    assert line == "Settings saved: balanced preset, 3x, at most $50000 per position."
    assert gus.post("/api/v1/settings/reset").status_code == 200


def test_launch_pause_stop_say_what_happens_to_open_positions(gus: Client) -> None:
    lines = []
    for action, status in (("start", "running"), ("pause", "paused"), ("stop", "standby")):
        reply = gus.post(f"/api/v1/control/{action}")
        assert reply.status_code == 200 and reply.json()["bot_status"] == status
        lines.append(gus.get("/api/v1/activity?limit=1").json()["events"][0]["message"])
    assert lines == [
        "Strategy launched: the bot opens and closes positions within your settings.",
        "Strategy paused: open positions are kept and protected, no new ones open.",
        "Strategy stopped: the bot is on standby and opens nothing on its own; open positions stay open, "
        "protected by their risk exits, until you close them.",
    ]
    assert gus.post("/api/v1/control/restart").status_code == 422


@pytest.mark.parametrize(("parameter", "shown"), [
    ("maybe", "no-new-positions (the parameter reads 'maybe', not off, no-new-positions or close-all: "
              "the bot reads it as no-new-positions)"),
    (None, "no-new-positions (the parameter is missing: the bot reads it as no-new-positions)"),
])
def test_ops_status_shows_a_broken_kill_switch_as_the_bot_reads_it(system: LocalSystem, gus: Client,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   parameter: str | None, shown: str) -> None:
    """An unknown or missing `/dnbot/kill-switch` stops new opens (fail safe): the operator's status says so, as
    the API's status does, instead of echoing the raw value or failing on the missing parameter."""
    from dnbot import cli, resources

    assert system.cloud is not None and system.runtime is not None
    ssm = system.cloud.client("ssm")
    if parameter is None:
        ssm.delete_parameter(Name=resources.KILL_SWITCH_PARAMETER)
    else:
        ssm.put_parameter(Name=resources.KILL_SWITCH_PARAMETER, Value=parameter, Type="String", Overwrite=True)
    try:
        assert system.runtime.kill_switch.kill_switch(fresh=True) is KillSwitch.NO_NEW_POSITIONS
        code = cli.main(["ops", "--endpoint-url", system.cloud.endpoint_url, "status"])
        out = capsys.readouterr().out
        assert code == 0
        assert f"kill switch        {shown}\n" in out
        assert "attention          kill switch is no-new-positions" in out
        code = cli.main(["ops", "--endpoint-url", system.cloud.endpoint_url, "--json", "status"])
        assert (code, json.loads(capsys.readouterr().out)["kill_switch"]) == (0, "no-new-positions")
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)
    assert system.runtime.kill_switch.kill_switch(fresh=True) is KillSwitch.OFF
