"""A Solana USDC withdrawal that takes a live position's rebalance cash (dnbot.domain.rebalance_cash): the wallet's
own USDC goes first; what it takes of the cash is capital returned, so the equity reading and the peak drop alike
(the drawdown breaker does not fire on a withdrawal) and the realized PnL (cash - collateral) stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnbot.adapters.risk import VenueRiskReader
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.presets import PRESETS, PresetName
from dnbot.domain.rebalance_cash import cash_paid_out, rebalance_cash_taken
from dnbot.domain.risk import ExitReason, assess
from tests.unit.fakes import Long

D = Decimal
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RULES = PRESETS[PresetName.CONSERVATIVE].exits  # 3% drawdown


def _rebalanced(position_id: str = "p1", *, cash: Decimal = D(800), age_hours: int = 0) -> Position:
    """A SOL 3x position after a partial close paid `cash` to the wallet (its ledger long shrunk by 2400 notional:
    800 of collateral the ledger long no longer shows)."""
    long_leg = Leg("asgard", D(48), D(150), D(7200), D(0), "pda")
    short_leg = Leg("hyperliquid", D(48), D(150), D(7200), D(0), "oid")
    return Position(position_id, "u1", Asset.SOL, Protocol.DRIFT, D(3), D(7200), PositionStatus.OPEN,
                    NOW - timedelta(hours=age_hours), NOW, long_leg=long_leg, short_leg=short_leg,
                    rebalance_cash_usd=cash, rebalance_collateral_usd=D(780), peak_equity_usd=D(3300))


def test_the_wallets_own_usdc_goes_first() -> None:
    position = _rebalanced()  # wallet 1500: 800 of it is the position's cash, 700 the trader's own
    assert rebalance_cash_taken(D(1500), D(700), [position]) == []
    assert rebalance_cash_taken(D(1500), D(1000), [position]) == [(position, D(300))]
    assert rebalance_cash_taken(D(1500), D(1500), [position]) == [(position, D(800))]
    assert rebalance_cash_taken(D(500), D(100), [position]) == [(position, D(100))]  # the wallet holds less


def test_the_oldest_positions_cash_goes_first() -> None:
    old, new = _rebalanced("old", cash=D(200), age_hours=5), _rebalanced("new", cash=D(300))
    assert rebalance_cash_taken(D(600), D(400), [new, old]) == [(old, D(200)), (new, D(100))]


def test_a_negative_cash_is_not_in_the_wallet() -> None:
    # the short's buy-backs lost more than the partial close paid out: nothing of the wallet is the position's
    assert rebalance_cash_taken(D(100), D(100), [_rebalanced(cash=D(-40))]) == []


def test_paid_out_cash_is_capital_returned() -> None:
    position = _rebalanced()
    after = cash_paid_out(position, D(300))
    assert (after.rebalance_cash_usd, after.rebalance_collateral_usd, after.peak_equity_usd) == (D(500), D(480),
                                                                                                  D(3000))
    assert after.rebalance_cash_usd - after.rebalance_collateral_usd == D(20)  # the realized PnL's part stays
    assert cash_paid_out(replace(position, peak_equity_usd=None), D(300)).peak_equity_usd is None
    with pytest.raises(ValueError):
        cash_paid_out(position, D(-1))


def test_the_drawdown_breaker_does_not_read_a_withdrawal_as_a_loss() -> None:
    # the legs now: long 7200 - 4800 debt = 2400, the short flat; + 840 cash = 3240, 60 below the 3300 peak
    reader = VenueRiskReader(lambda u, p: Long(D(7200), D(4800), D(48)), lambda a: {}, lambda u: "0x1",
                             lambda: D(150), lambda: D(150))
    before = reader.readings(_rebalanced(cash=D(840)))
    assert (before.equity_usd, before.peak_equity_usd) == (D(3240), D(3300))
    assert assess(before, RULES).reason is not ExitReason.DRAWDOWN  # 1.8% down
    after = reader.readings(cash_paid_out(_rebalanced(cash=D(840)), D(840)))  # the trader took all of it
    assert (after.equity_usd, after.peak_equity_usd) == (D(2400), D(2460))  # the same 60 below its peak
    assert assess(after, RULES).reason is not ExitReason.DRAWDOWN  # 2.4% of what is left
    # had the reading counted only the cash still in the wallet (min(cash, wallet)), the peak unchanged:
    counted_gone = replace(before, equity_usd=D(2400))
    assert assess(counted_gone, RULES).reason is ExitReason.DRAWDOWN  # the withdrawal would close the position


# --- a bridge rebalance moves USDC between the venues: the PnL changes by the bridge's cost only --------------

def _pnl(position: Position, long_equity: Decimal) -> Decimal:
    """Equity (the long's, the flat short's and the cash) less the equity at the open (position_risk)."""
    from dnbot.domain.position_risk import equity_at_open_usd

    basis = equity_at_open_usd(position)
    assert basis is not None
    return long_equity + position.rebalance_cash_usd - basis


@given(st.decimals(D(0), D(800), places=6), st.decimals(D(0), D(5), places=6))
def test_a_bridge_to_the_short_costs_the_pnl_only_its_fees(burned: Decimal, cost: Decimal) -> None:
    from dnbot.domain.rebalance_cash import bridged_to_short

    position, arrived = _rebalanced(), max(D(0), burned - cost)
    after = bridged_to_short(position, burned, arrived)
    assert _pnl(after, D(2400)) == _pnl(position, D(2400)) - (burned - arrived)  # the long is untouched
    assert after.rebalance_pnl_usd == position.rebalance_pnl_usd - (burned - arrived)
    assert after.peak_equity_usd == D(3300) - burned  # the breaker does not read the margin it fed as a loss


@given(st.decimals(D(1), D(2000), places=6), st.decimals(D(0), D(5), places=6))
def test_a_bridge_to_the_long_costs_the_pnl_only_its_fees(left: Decimal, cost: Decimal) -> None:
    from dnbot.domain.rebalance_cash import bridged_to_long

    position, added = _rebalanced(), max(D(0), left - cost)
    after = bridged_to_long(position, left, added)
    # the long's debt fell by what was added: its equity rose by it; the Hyperliquid margin is outside the equity
    assert _pnl(after, D(2400) + added) == _pnl(position, D(2400)) - (left - added)
    assert after.rebalance_pnl_usd == position.rebalance_pnl_usd - (left - added)


def test_a_bridge_cannot_arrive_with_more_than_left() -> None:
    from dnbot.domain.rebalance_cash import bridged_to_long, bridged_to_short

    with pytest.raises(ValueError):
        bridged_to_short(_rebalanced(), D(10), D(11))
    with pytest.raises(ValueError):
        bridged_to_long(_rebalanced(), D(10), D(-1))
