"""The CCTP bridge transfer record (dnbot.domain.bridge, docs/bridge.md sections 5-6): its state machine refuses
every move its table does not allow, repeats are idempotent, in-flight USDC counts only burned..minted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnbot.domain import rebalance
from dnbot.domain.bridge import (
    ARBITRUM_DOMAIN,
    IN_FLIGHT,
    MAX_FEE_CAP_RATE,
    SOLANA_DOMAIN,
    USDC_MICRO,
    Abandoned,
    Attested,
    BridgeDirection,
    BridgeEvent,
    BridgeState,
    BridgeTransfer,
    Burned,
    BurnSigned,
    Credited,
    IllegalBridgeTransition,
    Minted,
    NeedsAttention,
    Reattested,
    advance,
    fee_within_cap,
    in_flight_usd,
    max_fee_usd,
    new_transfer,
    overdue,
    stage,
    transfer_id_for,
)

D = Decimal
T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
NONCE_A = "0x" + "ab" * 32
NONCE_B = "cd" * 32
MESSAGE = "0x" + "00000001" * 40
ATTESTATION = "0x" + "11" * 130
S = BridgeState
ORDER = [S.PLANNED, S.BURN_SIGNED, S.BURNED, S.ATTESTED, S.MINTED, S.CREDITED]


def planned(direction: BridgeDirection = BridgeDirection.TO_SHORT, amount: Decimal = D("250"),
            fee: Decimal = D("0.05")) -> BridgeTransfer:
    recipient = "0x" + "22" * 20 if direction is BridgeDirection.TO_SHORT else "So1UsdcAta"
    return new_transfer(user_id="u1", position_id="p1", n=3, direction=direction, amount_usd=amount, max_fee=fee,
                        mint_recipient=recipient, at=T0)


def signed(direction: BridgeDirection) -> BurnSigned:
    if direction is BridgeDirection.TO_SHORT:
        return BurnSigned("AQID-signed", event_account="Ev1111")
    return BurnSigned("0xf86c-signed", evm_nonce=7)


def happy_path(record: BridgeTransfer) -> list[BridgeEvent]:
    fee = (record.max_fee_usd / 2).quantize(USDC_MICRO)
    return [signed(record.direction), Burned("tx-burn"), Attested(MESSAGE, ATTESTATION, NONCE_A, fee),
            Minted("tx-mint", record.amount_usd - fee), Credited()]


def run(record: BridgeTransfer, events: list[BridgeEvent]) -> BridgeTransfer:
    for k, event in enumerate(events):
        record = advance(record, event, T0 + timedelta(minutes=k + 1))
    return record


# --- examples --------------------------------------------------------------------------------------------------


def test_ids_directions_and_domains() -> None:
    assert BridgeDirection.TO_SHORT.value == rebalance.TO_SHORT and BridgeDirection.TO_LONG.value == rebalance.TO_LONG
    assert BridgeDirection(rebalance.TO_LONG) is BridgeDirection.TO_LONG
    assert transfer_id_for("p1", 3, BridgeDirection.TO_SHORT) == "p1:3:to_short"
    for bad in (("p:1", 3), ("", 3), ("p1", -1)):
        with pytest.raises(ValueError):
            transfer_id_for(bad[0], bad[1], BridgeDirection.TO_LONG)
    to_short, to_long = planned(), planned(BridgeDirection.TO_LONG)
    assert (to_short.source_domain, to_short.destination_domain) == (SOLANA_DOMAIN, ARBITRUM_DOMAIN) == (5, 3)
    assert (to_long.source_domain, to_long.destination_domain) == (3, 5)
    assert to_long.transfer_id == "p1:3:to_long" and to_long.state is S.PLANNED and to_long.version == 0


@pytest.mark.parametrize("direction", list(BridgeDirection))
def test_the_happy_path_stores_each_steps_evidence(direction: BridgeDirection) -> None:
    record = planned(direction, D("1000"), D("0.2"))
    seen = [record]
    for k, event in enumerate(happy_path(record)):
        seen.append(advance(seen[-1], event, T0 + timedelta(minutes=k + 1)))
    assert [r.state for r in seen] == ORDER
    assert [r.version for r in seen] == [0, 1, 2, 3, 4, 5]
    done = seen[-1]
    assert done.updated_at == T0 + timedelta(minutes=5) and done.created_at == T0
    assert done.burned_at == T0 + timedelta(minutes=2) and done.credited_at == T0 + timedelta(minutes=5)
    assert (done.burn_tx, done.cctp_nonce, done.mint_tx) == ("tx-burn", NONCE_A, "tx-mint")
    assert done.fee_executed_usd == D("0.1") and done.minted_usd == D("999.9") and done.error is None
    if direction is BridgeDirection.TO_SHORT:
        assert (done.event_account, done.evm_nonce) == ("Ev1111", None)
    else:
        assert (done.event_account, done.evm_nonce) == (None, 7)


def test_a_retry_with_the_same_evidence_is_a_no_op_and_different_evidence_raises() -> None:
    burned = run(planned(), [signed(BridgeDirection.TO_SHORT), Burned("tx-burn")])
    assert advance(burned, Burned("tx-burn"), T0 + timedelta(hours=1)) is burned
    with pytest.raises(IllegalBridgeTransition):
        advance(burned, Burned("tx-other"), T0)
    minted = run(burned, [Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.01")), Minted(None, D("249.99"))])
    assert advance(minted, Minted(None, D("249.99")), T0) is minted
    with pytest.raises(IllegalBridgeTransition):
        advance(minted, Minted("tx-mint", D("249.99")), T0)
    credited = advance(minted, Credited(), T0)
    assert advance(credited, Credited(), T0 + timedelta(days=1)) is credited


def test_illegal_moves_raise() -> None:
    record = planned()
    burn_signed = advance(record, signed(BridgeDirection.TO_SHORT), T0)
    burned = advance(burn_signed, Burned("tx"), T0)
    attest = Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.01"))
    cases: list[tuple[BridgeTransfer, BridgeEvent]] = [
        (record, Burned("tx")), (record, attest), (burn_signed, Minted("m", D(1))), (burned, Minted("m", D(1))),
        (burned, Credited()), (burned, Abandoned("never sent")), (burned, signed(BridgeDirection.TO_SHORT))]
    for before, event in cases:
        with pytest.raises(IllegalBridgeTransition):
            advance(before, event, T0)
    credited = run(burned, happy_path(burned)[2:])
    abandoned = advance(burn_signed, Abandoned("blockhash expired, signature unknown"), T0)
    assert abandoned.state is S.ABANDONED and abandoned.error == "blockhash expired, signature unknown"
    for final in (credited, abandoned):
        late: list[BridgeEvent] = [NeedsAttention("late"), Burned("tx"), Abandoned("other"),
                                   signed(BridgeDirection.TO_SHORT)]
        for event in late:
            with pytest.raises(IllegalBridgeTransition):
                advance(final, event, T0)


def test_malformed_evidence_raises() -> None:
    record = planned()
    burned = run(planned(), [signed(BridgeDirection.TO_SHORT), Burned("tx")])
    attested = advance(burned, Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.05")), T0)
    malformed: list[tuple[BridgeTransfer, BridgeEvent]] = [
        (record, BurnSigned("bytes")),  # a Solana burn without its event account
        (record, BurnSigned("bytes", event_account="Ev", evm_nonce=1)),
        (planned(BridgeDirection.TO_LONG), BurnSigned("bytes", event_account="Ev")),  # EVM needs its nonce
        (record, BurnSigned("", event_account="Ev")),
        (burned, Attested("zz", ATTESTATION, NONCE_A, D(0))),
        (burned, Attested(MESSAGE, ATTESTATION, "ab" * 31, D(0))),  # a nonce is 32 bytes
        (burned, Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.050001"))),  # above max_fee
        (burned, Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.0000001"))),  # below a micro-USDC
        (attested, Minted("m", D("250.000001"))), (attested, Minted("m", D(0))), (attested, Minted("", D(1))),
        (burned, NeedsAttention("")),
    ]
    for before, event in malformed:
        with pytest.raises(IllegalBridgeTransition):
            advance(before, event, T0)


def test_a_burn_rebuilt_with_the_same_guard_and_a_reattestation_are_moves() -> None:
    first = advance(planned(), BurnSigned("bytes-1", event_account="Ev1"), T0)
    rebuilt = advance(first, BurnSigned("bytes-2", event_account="Ev1"), T0)
    assert rebuilt.signed_burn == "bytes-2" and rebuilt.version == 2
    with pytest.raises(IllegalBridgeTransition):  # another event account: a second burn could land
        advance(first, BurnSigned("bytes-2", event_account="Ev2"), T0)
    evm = advance(planned(BridgeDirection.TO_LONG), BurnSigned("0x01", evm_nonce=4), T0)
    with pytest.raises(IllegalBridgeTransition):
        advance(evm, BurnSigned("0x02", evm_nonce=5), T0)
    attested = run(rebuilt, [Burned("tx"), Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.02"))])
    reattested = advance(attested, Attested(MESSAGE + "ff", "0x" + "33" * 130, NONCE_A, D(0)), T0)
    assert reattested.fee_executed_usd == 0 and reattested.version == attested.version + 1
    with pytest.raises(IllegalBridgeTransition):
        advance(attested, Attested(MESSAGE, ATTESTATION, NONCE_B, D(0)), T0)


def test_an_expired_fast_message_goes_back_to_burned_once_and_comes_back_with_its_nonce() -> None:
    attested = run(planned(), [signed(BridgeDirection.TO_SHORT), Burned("tx"),
                               Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.02"))])
    asked = T0 + timedelta(hours=3)
    waiting = advance(attested, Reattested(), asked)
    assert waiting.state is S.BURNED and stage(waiting) is S.BURNED and waiting.version == attested.version + 1
    assert waiting.reattested_at == asked and waiting.attestation is None and waiting.message is None
    assert waiting.cctp_nonce == NONCE_A and waiting.fee_executed_usd == D("0.02")  # the same burn, the fee kept
    assert waiting.burned_at == attested.burned_at and in_flight_usd([waiting]) == D("249.98")
    assert advance(waiting, Reattested(), asked + timedelta(minutes=1)) is waiting  # a retried step: no-op
    with pytest.raises(IllegalBridgeTransition):  # nothing to mint until Iris re-signs it
        advance(waiting, Minted("m", D("249.98")), asked)
    with pytest.raises(IllegalBridgeTransition):  # a burn has one nonce: another message is not this one
        advance(waiting, Attested(MESSAGE, ATTESTATION, NONCE_B, D("0.02")), asked)
    finalized = advance(waiting, Attested(MESSAGE + "ff", "0x" + "44" * 130, NONCE_A, D("0.02")), asked)
    assert finalized.state is S.ATTESTED and finalized.reattested_at == asked  # the evidence stays
    with pytest.raises(IllegalBridgeTransition, match="re-attested already"):  # once per record
        advance(finalized, Reattested(), asked + timedelta(hours=1))
    assert advance(finalized, Minted("m", D("249.98")), asked).state is S.MINTED
    stuck = advance(waiting, NeedsAttention("bridge_overdue"), asked)
    assert stage(stuck) is S.BURNED  # a reported record resumes at the new attestation, not the expired one
    assert advance(stuck, Attested(MESSAGE + "ff", ATTESTATION, NONCE_A, D("0.02")), asked).state is S.ATTESTED
    burned = run(planned(), [signed(BridgeDirection.TO_SHORT), Burned("tx")])
    for before in (planned(), burned, run(attested, [Minted("m", D("249.98"))])):
        with pytest.raises(IllegalBridgeTransition):  # only an attested message can be re-attested
            advance(before, Reattested(), asked)


def test_needs_attention_resumes_from_its_evidence() -> None:
    burned = run(planned(), [signed(BridgeDirection.TO_SHORT), Burned("tx")])
    stuck = advance(burned, NeedsAttention("attestation slow"), T0 + timedelta(hours=1))
    assert stuck.state is S.NEEDS_ATTENTION and stage(stuck) is S.BURNED and stuck.error == "attestation slow"
    assert advance(stuck, NeedsAttention("attestation slow"), T0) is stuck
    assert advance(stuck, NeedsAttention("still slow"), T0).error == "still slow"
    assert in_flight_usd([stuck]) == D("249.95")  # burned: the money is in transit, whatever the workflow did
    assert burned.burned_at is not None and overdue(stuck, burned.burned_at + timedelta(minutes=31))
    with pytest.raises(IllegalBridgeTransition):  # it burned: abandoning would lose track of it
        advance(stuck, Abandoned("give up"), T0)
    with pytest.raises(IllegalBridgeTransition):
        advance(stuck, Burned("tx-other"), T0)
    resumed = advance(stuck, Burned("tx"), T0 + timedelta(hours=2))
    assert resumed.state is S.BURNED and resumed.burned_at == burned.burned_at and resumed.error is None
    attested = advance(stuck, Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.01")), T0)
    assert attested.state is S.ATTESTED and attested.error is None
    never_sent = advance(advance(planned(), signed(BridgeDirection.TO_SHORT), T0), NeedsAttention("lost"), T0)
    assert advance(never_sent, Abandoned("never landed"), T0).state is S.ABANDONED


def test_max_fee_and_its_cap() -> None:
    assert max_fee_usd(D(1000), 1) == D("0.2")  # (1 + 1) bps of 1000
    assert max_fee_usd(D("123.456789"), D("1.5")) == D("0.030865")  # 0.0308641975 rounded up
    assert max_fee_usd(D("0.000001"), 0) == D("0.000001")
    assert fee_within_cap(D(1000), D(2)) and not fee_within_cap(D(1000), D("2.000001"))
    assert not fee_within_cap(D(1000), D("-0.1"))
    assert max_fee_usd(D(1000), 20) > D(1000) * MAX_FEE_CAP_RATE  # a 20 bps fee does not fit the cap
    for bad in [(D(0), 1), (D(1), -1)]:
        with pytest.raises(ValueError):
            max_fee_usd(*bad)
    too_high, sub_micro, nothing, fee_is_all = (D(1000), D("2.000001")), (D("10.0000001"), D(0)), (D(0), D(0)), (
        D("0.000001"), D("0.000001"))
    for amount, fee in [too_high, sub_micro, nothing, fee_is_all]:
        with pytest.raises(ValueError):
            planned(amount=amount, fee=fee)


def test_overdue_after_the_burn_until_credited() -> None:
    record = run(planned(), [signed(BridgeDirection.TO_SHORT)])
    assert not overdue(record, T0 + timedelta(days=1))  # not burned: nothing in transit
    burned = advance(record, Burned("tx"), T0)
    assert not overdue(burned, T0 + timedelta(minutes=30)) and overdue(burned, T0 + timedelta(minutes=30, seconds=1))
    assert not overdue(burned, T0 + timedelta(hours=1), fast=False)
    assert overdue(burned, T0 + timedelta(hours=2, seconds=1), fast=False)
    credited = run(burned, happy_path(burned)[2:])
    assert not overdue(credited, T0 + timedelta(days=1))


def test_in_flight_counts_burned_to_minted_less_the_expected_fee() -> None:
    base = planned(amount=D(100), fee=D("0.02"))
    burned = run(base, happy_path(base)[:2])
    attested = advance(burned, Attested(MESSAGE, ATTESTATION, NONCE_A, D("0.013")), T0)
    minted = advance(attested, Minted("m", D("99.987")), T0)
    credited = advance(minted, Credited(), T0)
    assert in_flight_usd([base, burned, attested, minted, credited]) == D("99.98") + D("99.987") * 2
    assert in_flight_usd([]) == 0


# --- properties ------------------------------------------------------------------------------------------------

AMOUNTS = st.decimals(min_value=D("0.01"), max_value=D(10_000_000), places=6)
BPS = st.one_of(st.integers(min_value=0, max_value=19), st.decimals(min_value=0, max_value=19, places=2))
EVENTS: st.SearchStrategy[BridgeEvent] = st.one_of(
    st.builds(BurnSigned, st.sampled_from(["b1", "b2"]), st.sampled_from([None, "Ev1", "Ev2"]),
              st.sampled_from([None, 1, 2])),
    st.builds(Burned, st.sampled_from(["tx1", "tx2"])),
    st.builds(Attested, st.sampled_from([MESSAGE, MESSAGE + "00"]), st.just(ATTESTATION),
              st.sampled_from([NONCE_A, NONCE_B]), st.sampled_from([D(0), D("0.01"), D("0.03")])),
    st.builds(Minted, st.sampled_from([None, "m1", "m2"]), st.sampled_from([D("99.99"), D(100), D("99.97")])),
    st.just(Credited()),
    st.just(Reattested()),
    st.builds(Abandoned, st.sampled_from(["r1", "r2"])),
    st.builds(NeedsAttention, st.sampled_from(["r1", "r2"])),
)


def consistent(record: BridgeTransfer) -> None:
    """The evidence a record holds is exactly what its stage proves."""
    at = stage(record)
    reached = ORDER.index(at) if at in ORDER else None
    if record.state is S.ABANDONED:
        assert record.burn_tx is None and record.error
        return
    assert reached is not None
    assert (record.signed_burn is not None) == (reached >= 1)
    assert (record.burn_tx is not None) == (record.burned_at is not None) == (reached >= 2)
    assert (record.attestation is not None) == (record.message is not None) == (reached >= 3)
    assert (record.cctp_nonce is not None) == (reached >= 3 or record.reattested_at is not None)
    assert record.reattested_at is None or reached >= 2
    assert (record.minted_usd is not None) == (reached >= 4)
    assert (record.credited_at is not None) == (reached >= 5)
    assert (record.error is not None) == (record.state is S.NEEDS_ATTENTION)
    if record.signed_burn is not None:
        assert (record.event_account is not None) == (record.direction is BridgeDirection.TO_SHORT)
        assert (record.evm_nonce is not None) == (record.direction is BridgeDirection.TO_LONG)
    if record.fee_executed_usd is not None:
        assert 0 <= record.fee_executed_usd <= record.max_fee_usd


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(BridgeDirection)), st.lists(EVENTS, max_size=25))
def test_any_event_sequence_keeps_the_record_consistent(direction: BridgeDirection,
                                                        events: list[BridgeEvent]) -> None:
    record = planned(direction, D(100), D("0.03"))
    moves = 0
    for k, event in enumerate(events):
        at = T0 + timedelta(minutes=k + 1)
        before = record
        try:
            record = advance(record, event, at)
        except IllegalBridgeTransition:
            assert record is before  # nothing changed
            continue
        if record is not before:
            moves += 1
            assert record.updated_at == at and before.state not in (S.CREDITED, S.ABANDONED)
            assert before.burned_at is None or record.burned_at == before.burned_at
            assert before.cctp_nonce is None or record.cctp_nonce == before.cctp_nonce  # one burn, one nonce
            assert before.reattested_at is None or record.reattested_at == before.reattested_at  # once
        consistent(record)
        assert record.version == moves
        flight = in_flight_usd([record])
        assert flight >= 0 and (flight > 0) == (stage(record) in IN_FLIGHT)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(BridgeDirection)), st.integers(min_value=0, max_value=5), st.data())
def test_skipping_a_step_or_moving_a_final_record_raises(direction: BridgeDirection, done: int,
                                                         data: st.DataObject) -> None:
    base = planned(direction)
    path = happy_path(base)
    record = run(base, path[:done])
    assert record.state is ORDER[done]
    # a step two or more ahead; from minted or credited, a step before the one that got the record there
    later = data.draw(st.sampled_from(path[done + 1:] or [e for e in path[:4] if e is not path[done - 1]]))
    with pytest.raises(IllegalBridgeTransition):
        advance(record, later, T0)
    if done < 5:  # the next step is legal, and NeedsAttention from any non-final state
        assert advance(record, path[done], T0).state is ORDER[done + 1]
        assert advance(record, NeedsAttention("x"), T0).state is S.NEEDS_ATTENTION
    if done >= 2:
        with pytest.raises(IllegalBridgeTransition):
            advance(record, Abandoned("x"), T0)


@settings(max_examples=500, deadline=None)
@given(AMOUNTS, BPS)
def test_max_fee_covers_the_bps_fee_and_rounds_up_to_a_micro_usdc(amount: Decimal, bps: Decimal | int) -> None:
    fee = max_fee_usd(amount, bps)
    exact = amount * (D(bps) + 1) / 10_000
    assert fee == fee.quantize(USDC_MICRO) and exact <= fee < exact + USDC_MICRO
    assert fee >= amount * D(bps) / 10_000


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(AMOUNTS, st.integers(min_value=0, max_value=5), st.booleans(),
                          st.sampled_from(["half", "max", "zero"])), max_size=8))
def test_in_flight_is_never_negative_and_counts_only_burned_to_minted(
        specs: list[tuple[Decimal, int, bool, str]]) -> None:
    records = []
    for amount, done, stuck, fee_case in specs:
        base = planned(amount=amount, fee=(amount * MAX_FEE_CAP_RATE).quantize(USDC_MICRO, rounding="ROUND_DOWN"))
        fee = {"half": base.max_fee_usd / 2, "max": base.max_fee_usd, "zero": D(0)}[fee_case]
        path = happy_path(base)
        path[2] = Attested(MESSAGE, ATTESTATION, NONCE_A, fee.quantize(USDC_MICRO, rounding="ROUND_DOWN"))
        path[3] = Minted("m", base.amount_usd - fee.quantize(USDC_MICRO, rounding="ROUND_DOWN"))
        record = run(base, path[:done])
        if stuck and done < 5:
            record = advance(record, NeedsAttention("stuck"), T0)
        records.append(record)
    total = in_flight_usd(records)
    counted = [r for r in records if stage(r) in IN_FLIGHT]
    assert total >= 0
    assert sum((r.amount_usd - r.max_fee_usd for r in counted), D(0)) <= total <= sum(
        (r.amount_usd for r in counted), D(0))
    assert in_flight_usd(r for r in records if r not in counted) == 0


# --- the event account's rent ----------------------------------------------------------------------------------


def test_a_credited_solana_burns_rent_is_reclaimable_once_five_days_old_and_once() -> None:
    from dnbot.cctp.solana import EVENT_ACCOUNT_WINDOW_SECONDS
    from dnbot.domain.bridge import (
        EVENT_ACCOUNT_WINDOW,
        RECLAIM_MARGIN,
        reclaim_refused,
        reclaim_signed,
        rent_reclaimable,
        rent_reclaimed,
        rent_to_reclaim,
    )

    assert EVENT_ACCOUNT_WINDOW.total_seconds() == EVENT_ACCOUNT_WINDOW_SECONDS  # the program's window
    events = happy_path(planned())
    done = run(planned(), events)
    burned_at = T0 + timedelta(minutes=2)
    assert done.burned_at == burned_at and rent_to_reclaim(done)
    window = burned_at + EVENT_ACCOUNT_WINDOW + RECLAIM_MARGIN
    assert not rent_reclaimable(done, window - timedelta(seconds=1))
    assert not rent_reclaimable(done, burned_at + EVENT_ACCOUNT_WINDOW)  # the chain's clock may be behind ours
    assert rent_reclaimable(done, window) and rent_reclaimable(done, window + timedelta(days=30))

    # not credited yet (minted: the reconciler may still book it), or Arbitrum-sourced: nothing to reclaim
    minted = run(planned(), events[:-1])
    assert not rent_to_reclaim(minted) and not rent_reclaimable(minted, window)
    to_long = run(planned(BridgeDirection.TO_LONG), happy_path(planned(BridgeDirection.TO_LONG)))
    assert to_long.state is S.CREDITED and not rent_reclaimable(to_long, window)
    abandoned = advance(planned(), Abandoned("never burned"), T0)
    assert not rent_reclaimable(abandoned, window)

    # signed, stored, then reclaimed: no longer reclaimable; the same answer again is a no-op
    at = window + timedelta(minutes=1)
    stored = reclaim_signed(done, "AQID-reclaim", at)
    assert (stored.signed_reclaim, stored.version, stored.updated_at) == ("AQID-reclaim", done.version + 1, at)
    assert stored.state is S.CREDITED and rent_reclaimable(stored, at)
    assert reclaim_signed(stored, "AQID-reclaim", at) is stored
    back = rent_reclaimed(stored, "tx-reclaim", at)
    assert (back.reclaim_tx, back.rent_reclaimed_at, back.version) == ("tx-reclaim", at, stored.version + 1)
    assert not rent_to_reclaim(back) and not rent_reclaimable(back, at + timedelta(days=1))
    assert rent_reclaimed(back, "tx-reclaim", at + timedelta(days=1)) is back
    illegal: list[Callable[[], BridgeTransfer]] = [
        lambda: reclaim_signed(back, "AQID-again", at), lambda: rent_reclaimed(back, None, at),
        lambda: rent_reclaimed(minted, "tx", at), lambda: reclaim_signed(to_long, "AQID", at),
        lambda: reclaim_signed(done, "", at), lambda: reclaim_refused(done, "", at)]
    for move in illegal:
        with pytest.raises(IllegalBridgeTransition):
            move()
    found_closed = rent_reclaimed(done, None, at)  # the account was closed already: no tx of ours
    assert found_closed.reclaim_tx is None and found_closed.rent_reclaimed_at == at

    # refused for good by the program: the rent stays and nothing retries it
    refused = reclaim_refused(stored, "reclaim refused: InvalidDestinationMessage", at)
    assert refused.reclaim_error is not None and refused.rent_reclaimed_at is None
    assert not rent_to_reclaim(refused) and not rent_reclaimable(refused, at + timedelta(days=1))
