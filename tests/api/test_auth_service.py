"""AuthService on moto tables with a controlled clock: idle timeout, absolute lifetime, a Privy token exchanged
once, session rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from dnbot import resources
from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.adapters.aws.sessions import DynamoSessionStore
from dnbot.local.cloud import create_state_table
from dnbot.ports import LoginRejected, UserWallets, VerifiedIdentity
from dnbot.services.auth import SESSION_COOKIE, AuthService
from dnbot.services.errors import TooManyRequests, Unauthorized
from tests.unit.fakes import MovableClock

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


class Wallets:
    def wallets_for(self, user_id: str) -> UserWallets:
        return UserWallets(f"So1{user_id[:8]}", f"0x{user_id[:8]}")


class Verifier:
    """Privy's verifier stand-in: a token names its user, session and issue time."""

    def verify(self, access_token: str) -> VerifiedIdentity:
        if not access_token.startswith("good:"):
            raise LoginRejected("the Privy token is not valid")
        _, email, sid, iat = access_token.split(":")
        return VerifiedIdentity(subject=f"did:privy:{email}", email=email, token_id=f"{sid}|{iat}",
                                token_expires_at=T0 + timedelta(hours=1))


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(T0)


@pytest.fixture
def auth(clock: MovableClock) -> Iterator[AuthService]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client)
        create_state_table(client, resources.SESSIONS_TABLE)
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        state = DynamoStateStore(dynamodb.Table(resources.STATE_TABLE.local_name), clock.now)
        sessions = DynamoSessionStore(dynamodb.Table(resources.SESSIONS_TABLE.local_name), clock.now)
        yield AuthService(state, sessions, sessions, sessions, Wallets(), clock, identity=None,
                          token_verifier=Verifier(), session_ttl=timedelta(hours=24),
                          remembered_session_ttl=timedelta(days=7), idle_timeout=timedelta(hours=2))


def test_idle_timeout_ends_a_session_that_activity_keeps_alive(auth: AuthService, clock: MovableClock) -> None:
    session = auth.login_with_privy("good:a@example.com:s1:1").session
    for _ in range(5):  # active every 90 minutes: never idle for 2 h, alive for 7.5 h
        clock.at += timedelta(minutes=90)
        auth.authenticate(session.session_id)
    clock.at += timedelta(hours=2)
    with pytest.raises(Unauthorized):
        auth.authenticate(session.session_id)


def test_absolute_lifetime_even_when_active(auth: AuthService, clock: MovableClock) -> None:
    session = auth.login_with_privy("good:a@example.com:s1:1").session
    while clock.at < T0 + timedelta(hours=23):
        clock.at += timedelta(minutes=60)
        auth.authenticate(session.session_id)
    clock.at = T0 + timedelta(hours=24, seconds=1)
    with pytest.raises(Unauthorized):
        auth.authenticate(session.session_id)


def test_remembered_sessions_last_seven_days(auth: AuthService) -> None:
    session = auth.login_with_privy("good:a@example.com:s1:1", remember=True).session
    assert session.expires_at - session.created_at == timedelta(days=7)


def test_a_privy_token_is_exchanged_once(auth: AuthService) -> None:
    auth.login_with_privy("good:a@example.com:s1:100")
    with pytest.raises(Unauthorized) as replay:
        auth.login_with_privy("good:a@example.com:s1:100")
    assert replay.value.code == "token_already_used"
    assert auth.login_with_privy("good:a@example.com:s1:101").user.email == "a@example.com"  # a new token: fine


def test_session_exchanges_are_limited_per_client(auth: AuthService) -> None:
    for n in range(30):
        auth.login_with_privy(f"good:a@example.com:s{n}:1", client="10.0.0.1")
    with pytest.raises(TooManyRequests) as limited:
        auth.login_with_privy("good:a@example.com:s99:1", client="10.0.0.1")
    assert limited.value.retry_after_seconds > 0
    auth.login_with_privy("good:a@example.com:s99:1", client="10.0.0.2")  # another client is not affected


def test_rotation_ends_the_old_id(auth: AuthService) -> None:
    session = auth.login_with_privy("good:a@example.com:s1:1").session
    fresh = auth.rotate(session)
    assert fresh.session_id != session.session_id and fresh.csrf_token != session.csrf_token
    assert fresh.user_id == session.user_id and fresh.expires_at == session.expires_at
    with pytest.raises(Unauthorized):
        auth.authenticate(session.session_id)
    assert auth.authenticate(fresh.session_id)[0].email == "a@example.com"


def test_a_websocket_viewer_is_the_session_cookies_user_or_nobody(auth: AuthService) -> None:
    login = auth.login_with_privy("good:a@example.com:s1:1")
    cookie = f"theme=dark; {SESSION_COOKIE}={login.session.session_id}"
    assert auth.viewer(cookie) == login.user.user_id
    assert auth.viewer("") is None and auth.viewer("theme=dark") is None
    assert auth.viewer(f"{SESSION_COOKIE}=not-a-session") is None
    assert auth.viewer(f'{SESSION_COOKIE}="{login.session.session_id}!"') is None  # malformed: no session
