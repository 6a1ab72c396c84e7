"""The sessions table against moto: hashed session keys, lifetimes, log out everywhere, atomic abuse counters,
single-use marks, the one-time code's check ceiling under parallel guesses."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from dnbot import resources
from dnbot.adapters.aws.sessions import DynamoAuditTrail, DynamoSessionStore
from dnbot.local.cloud import make_item_writes_atomic
from dnbot.local.identity import MAX_CHECKS_PER_CODE, LocalEmailCodes
from dnbot.ports import CodeReplaced, LoginRejected, SessionRecord
from tests.contract.aws.test_dynamodb_store import Clock, moto_table

T0 = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def table() -> Iterator[object]:
    make_item_writes_atomic()  # DynamoDB's per-item atomicity, which moto lacks across threads
    with moto_table(resources.SESSIONS_TABLE) as table:
        yield table


@pytest.fixture
def store(table: object, clock: Clock) -> DynamoSessionStore:
    return DynamoSessionStore(table, clock)


def test_the_table_holds_only_the_secrets_hash(store: DynamoSessionStore, table: object) -> None:
    store.create_session(SessionRecord("the-secret", "u1", T0, T0 + timedelta(hours=1), "csrf"))
    items = table.scan()["Items"]  # type: ignore[attr-defined]
    assert [i["pk"] for i in items] == ["SESSION#" + hashlib.sha256(b"the-secret").hexdigest()]
    assert "the-secret" not in repr(items)
    found = store.get_session("the-secret")
    assert found is not None and found.user_id == "u1" and found.session_id == "the-secret"
    assert store.get_session(hashlib.sha256(b"the-secret").hexdigest()) is None  # the stored key is no cookie


def test_absolute_lifetime_is_enforced_in_code(store: DynamoSessionStore, clock: Clock) -> None:
    store.create_session(SessionRecord("s1", "u1", T0, T0 + timedelta(hours=1), "csrf"))
    clock.now = T0 + timedelta(hours=1, seconds=1)  # moto never runs TTL
    assert store.get_session("s1") is None


def test_log_out_everywhere_ends_only_that_users_sessions(store: DynamoSessionStore) -> None:
    for secret, user in (("a1", "alice"), ("a2", "alice"), ("a3", "alice"), ("b1", "bob")):
        store.create_session(SessionRecord(secret, user, T0, T0 + timedelta(hours=1), "c"))
    assert store.delete_user_sessions("alice") == 3
    assert [store.get_session(s) for s in ("a1", "a2", "a3")] == [None, None, None]
    assert store.get_session("b1") is not None


def test_counter_lets_exactly_the_limit_through_under_parallel_hits(store: DynamoSessionStore) -> None:
    with ThreadPoolExecutor(max_workers=30) as pool:
        decisions = list(pool.map(lambda _: store.hit("login-verify", "k", 5, timedelta(minutes=15)), range(30)))
    assert sum(d.allowed for d in decisions) == 5
    refused = [d for d in decisions if not d.allowed]
    assert all(0 < d.retry_after_seconds <= 15 * 60 for d in refused)


def test_counter_window_ends(store: DynamoSessionStore, clock: Clock) -> None:
    assert [store.hit("s", "k", 2, timedelta(minutes=15)).allowed for _ in range(3)] == [True, True, False]
    clock.now = T0 + timedelta(minutes=15)
    assert store.hit("s", "k", 2, timedelta(minutes=15)).allowed


def test_claim_once_until_expiry(store: DynamoSessionStore, clock: Clock) -> None:
    until = T0 + timedelta(minutes=10)
    with ThreadPoolExecutor(max_workers=10) as pool:
        claims = list(pool.map(lambda _: store.claim_once("privy-token", "t1", until), range(10)))
    assert claims.count(True) == 1
    clock.now = until + timedelta(seconds=1)  # remembered until the token itself expires, then forgotten
    assert store.claim_once("privy-token", "t1", until)


def test_a_code_survives_at_most_five_checks_under_thirty_parallel_guesses(store: DynamoSessionStore,
                                                                        clock: Clock) -> None:
    sent: list[str] = []
    codes = LocalEmailCodes(store, clock, lambda _email, code: sent.append(code))
    codes.start_email_login("victim@example.com")
    checked: list[str] = []
    original = store.count_use

    def counting(*args: object) -> bool:
        allowed = original(*args)  # type: ignore[arg-type]
        if allowed:
            checked.append("x")
        return allowed

    store.count_use = counting  # type: ignore[method-assign]
    wrong = "999999" if sent[0] != "999999" else "999998"

    def guess(_: int) -> str:
        try:
            codes.verify_email_code("victim@example.com", wrong)
        except CodeReplaced:
            return "replaced"
        except LoginRejected:
            return "wrong"
        return "in"

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(guess, range(30)))
    assert "in" not in outcomes
    # every code is checked at most five times across all clients; then it is replaced by a fresh one, so the
    # owner is never locked out (the per-client limit in front of this is tested in tests/api/test_sessions.py)
    assert len(checked) <= MAX_CHECKS_PER_CODE * len(sent)
    assert outcomes.count("replaced") >= 1 and len(sent) >= 2
    try:
        owner = codes.verify_email_code("victim@example.com", sent[-1])
    except CodeReplaced:  # the burst used the latest code's last check: yet another fresh code reached the owner
        owner = codes.verify_email_code("victim@example.com", sent[-1])
    assert owner.email == "victim@example.com"
    with pytest.raises(LoginRejected):  # single use
        codes.verify_email_code("victim@example.com", sent[-1])


def test_codes_expire(store: DynamoSessionStore, clock: Clock) -> None:
    sent: list[str] = []
    codes = LocalEmailCodes(store, clock, lambda _email, code: sent.append(code))
    codes.start_email_login("a@example.com")
    clock.now = T0 + timedelta(minutes=11)
    with pytest.raises(LoginRejected):
        codes.verify_email_code("a@example.com", sent[0])


def test_audit_entries_by_day_newest_first(table: object, clock: Clock) -> None:
    audit = DynamoAuditTrail(table, clock)
    audit.record("login", user_id="u1", client="1.2.3.4", detail={"method": "email_code"})
    clock.now = T0 + timedelta(minutes=1)
    audit.record("emergency_stop", user_id="op", client="5.6.7.8", detail={})
    entries = audit.entries(T0.date().isoformat())
    assert [e["action"] for e in entries] == ["emergency_stop", "login"]
    assert entries[1] == {"at": T0.isoformat(), "action": "login", "user_id": "u1", "client": "1.2.3.4",
                          "detail": {"method": "email_code"}}


def test_a_right_code_logs_in_once_under_parallel_requests(store: DynamoSessionStore, clock: Clock) -> None:
    sent: list[str] = []
    codes = LocalEmailCodes(store, clock, lambda _email, code: sent.append(code))
    codes.start_email_login("twice@example.com")

    def verify(_: int) -> bool:
        try:
            codes.verify_email_code("twice@example.com", sent[0])
        except LoginRejected:
            return False
        return True

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(verify, range(5)))
    assert results.count(True) == 1
