"""The long leg through Asgard: implements dnbot.ports.LongVenue and dnbot.ports.LendingMarketSource.

Open: /markets (banks of the asset x protocol) -> /create-position (USDC collateral, direction LONG) -> the
user's signer validates and signs each returned transaction -> /submit-create-position-tx. Close likewise with
/close-position -> /submit-close-position-tx. Before a signed transaction is submitted its signature (the
Solana transaction id, deterministic for ed25519) is stored with the position's reference, so that after an
ambiguous submit `find_long` recognises the position by its `openTxHash` even though Asgard's API carries no
client id.

An ambiguous submit (sent, no answer) is resolved before anything is unwound: the position is looked up by its
PDA / open signature among the wallet's positions (found: adopted, the open continues); if it is not there, the
signature's status on Solana and its blockhash say whether it can still land. While it can, `find_long` raises
LongMayStillLand (a TransientVenueError: the step is retried), so a position is never marked failed while its
long may still appear. A submit Asgard refused outright forgets the signature: it cannot land.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from solders.transaction import VersionedTransaction

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.adapters.asgard.health import AsgardHealth, LongHealth, parse_health
from dnbot.adapters.asgard.markets import AsgardMarkets, _d, _preferred_sources, markets_from_snapshots, parse_markets
from dnbot.adapters.asgard.references import InMemoryLongReferences, LongReference, LongReferenceStore
from dnbot.domain.assets import USDC, Asset
from dnbot.domain.rates import LendingMarket
from dnbot.domain.risk import liquidation_threshold
from dnbot.ports import (
    AmbiguousVenueError,
    LongFill,
    LongOpenRequest,
    LongState,
    SolanaTransactionSigner,
    TransientVenueError,
    VenueRejected,
    WalletDirectory,
)

DIRECTION_LONG = 0
COLLATERAL_SHORT_TOKEN = 1  # fund a long with the debt token: USDC


def signature_of(signed_tx_base64: str) -> str:
    """The transaction id: the fee payer's signature, first in the list."""
    return str(VersionedTransaction.from_bytes(base64.b64decode(signed_tx_base64)).signatures[0])


def blockhash_of(signed_tx_base64: str) -> str:
    """The blockhash the transaction was signed over (it can land only while that blockhash is valid)."""
    return str(VersionedTransaction.from_bytes(base64.b64decode(signed_tx_base64)).message.recent_blockhash)


class LongMayStillLand(TransientVenueError):
    """An Asgard submit whose answer was lost is not visible yet but may still land: try again later."""


class SignatureStatuses(Protocol):
    """What the Solana RPC adapter (dnbot.adapters.solana.rpc.SolanaRpc) answers about a sent transaction."""

    def signature_status(self, signature: str) -> Any: ...

    def blockhash_valid(self, blockhash: str) -> bool: ...


class AsgardLongVenue:
    def __init__(self, client: AsgardClient, signer: SolanaTransactionSigner, wallet_of: Callable[[str], str],
                 references: LongReferenceStore | None = None, *, slippage_bps: int = 50,
                 jito_tip_lamports: int = 100_000,
                 staking_apy_of: Callable[[Asset], Decimal | None] | None = None,
                 solana: SignatureStatuses | None = None) -> None:
        """`wallet_of(user_id)` is the user's Solana address (e.g. from the WalletDirectory);
        `staking_apy_of` fills an LST's staking APY when /markets does not carry it; `solana` resolves an
        ambiguous submit (without it, a lost answer is treated as "may still land" until Asgard lists it)."""
        self.solana = solana
        self.client = client
        self.signer = signer
        self.wallet_of = wallet_of
        self.references: LongReferenceStore = references or InMemoryLongReferences()
        self.slippage_bps = slippage_bps
        self.jito_tip_lamports = jito_tip_lamports
        self.staking_apy_of = staking_apy_of

    # --- LendingMarketSource ---

    def lending_markets(self) -> list[LendingMarket]:
        return AsgardMarkets(self.client, self.staking_apy_of).lending_markets()

    def sol_price_usd(self) -> Decimal:
        return AsgardMarkets(self.client, self.staking_apy_of).sol_price_usd()

    # --- LongVenue ---

    def _banks(self, asset: Asset, protocol: int) -> tuple[str, str]:
        for strategy in self.client.markets().get("strategies", {}).values():
            if strategy.get("tokenAMint") != asset.token.mint or strategy.get("tokenBMint") != USDC.mint:
                continue
            for source in _preferred_sources(strategy.get("liquiditySources", [])):
                if source.get("lendingProtocol") == protocol and source.get("isActive", True):
                    return str(source["tokenABank"]), str(source["tokenBBank"])
        raise VenueRejected(f"Asgard has no active {asset.value}/USDC market on protocol {protocol}")

    def _sign(self, user_id: str, transactions: list[str]) -> list[str]:
        return [self.signer.sign_transaction(user_id, tx) for tx in transactions]

    def open_long(self, request: LongOpenRequest) -> LongFill:
        existing = self.find_long(request.user_id, request.position_id)
        if existing is not None:
            return existing  # a retry of an open that landed: idempotent by position id
        wallet = self.wallet_of(request.user_id)
        token_a_bank, token_b_bank = self._banks(request.asset, request.protocol)
        amount_native = int((request.collateral_usd.scaleb(USDC.decimals)).to_integral_value(ROUND_DOWN))
        built = self.client.create_position({
            "protocol": request.protocol, "tokenABank": token_a_bank, "tokenBBank": token_b_bank,
            "direction": DIRECTION_LONG, "collateralType": COLLATERAL_SHORT_TOKEN,
            "collateralAmountNative": amount_native, "collateralMint": USDC.mint, "collateralUnitPrice": 1.0,
            "leverage": float(request.leverage), "jitoTipLamport": self.jito_tip_lamports,
            "slippageBps": self.slippage_bps, "walletPubkey": wallet, "useDirectRoute": False,
        })
        signed = self._sign(request.user_id, list(built["signedTxs"]))
        reference = LongReference(wallet, request.protocol, str(built.get("positionPDA", "")),
                                  open_signature=signature_of(signed[0]), open_blockhash=blockhash_of(signed[0]))
        self.references.put_reference(request.user_id, request.position_id, reference)
        try:
            record = self.client.submit_create_position({**built, "signedTxs": signed})
        except AmbiguousVenueError:
            found = self._record(request.user_id, request.position_id)
            if found is not None and found[1].get("state") == 0:
                return fill_from_record(found[1])  # it landed: adopted, the open continues
            raise  # not visible yet: the unwind resolves it (find_long) before closing anything
        except (VenueRejected, TransientVenueError):
            # refused or never sent: this transaction cannot land, so it is not waited for
            self.references.put_reference(request.user_id, request.position_id,
                                          replace(reference, open_signature=None, open_blockhash=None))
            raise
        if record.get("positionPda"):
            self.references.put_reference(request.user_id, request.position_id,
                                          replace(reference, pda=str(record["positionPda"])))
        return fill_from_record(record)

    def _record(self, user_id: str, position_id: str) -> tuple[LongReference, dict[str, Any]] | None:
        reference = self.references.get_reference(user_id, position_id)
        if reference is None:
            return None
        for record in self.client.positions(reference.wallet):
            if (reference.pda and record.get("positionPda") == reference.pda) or (
                    reference.open_signature and record.get("openTxHash") == reference.open_signature):
                return reference, record
        return None

    def find_long(self, user_id: str, position_id: str) -> LongFill | None:
        """The position's active long; None when it has none and none can still land. Raises LongMayStillLand
        while a submit whose answer was lost may still land (retry later; never unwind around it)."""
        found = self._record(user_id, position_id)
        if found is not None:
            return fill_from_record(found[1]) if found[1].get("state") == 0 else None
        reference = self.references.get_reference(user_id, position_id)
        if reference is not None and reference.open_signature and self._may_still_land(reference):
            raise LongMayStillLand(f"the Asgard open {reference.open_signature[:12]}... of position {position_id} "
                                   "is not listed yet and may still land")
        return None

    def _may_still_land(self, reference: LongReference) -> bool:
        if self.solana is None or reference.open_signature is None:
            return True  # nothing to prove otherwise with
        status = self.solana.signature_status(reference.open_signature)
        if status is not None:
            return getattr(status, "error", None) is None  # landed (Asgard will list it) or failed for good
        return reference.open_blockhash is None or self.solana.blockhash_valid(reference.open_blockhash)

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        """Idempotent: a retry after our own close landed (its answer lost) returns that close's proceeds."""
        found = self._record(user_id, position_id)
        if found is None:
            return Decimal(0)
        reference, record = found
        if record.get("state") != 0:
            ours = reference.close_signature is not None and record.get("closeTxHash") == reference.close_signature
            return _d(record.get("equityWithdrawnUI")) if ours else Decimal(0)
        built = self.client.close_position({
            "protocol": reference.protocol, "walletPubkey": reference.wallet,
            "positionPDA": record["positionPda"], "collateralType": COLLATERAL_SHORT_TOKEN,
            "jitoTipLamport": self.jito_tip_lamports, "slippageBps": self.slippage_bps, "useDirectRoute": False})
        signed = self._sign(user_id, list(built["signedTxs"]))
        self.references.put_reference(user_id, position_id,
                                      replace(reference, close_signature=signature_of(signed[0])))
        try:
            answer = self.client.submit_close_position({**built, "signedTxs": signed})
        except AmbiguousVenueError:
            again = self._record(user_id, position_id)
            if again is not None and again[1].get("state") != 0 and again[0].close_signature is not None \
                    and again[1].get("closeTxHash") == again[0].close_signature:
                return _d(again[1].get("equityWithdrawnUI"))  # our close landed, its answer was lost
            raise
        withdrawn = answer.get("equityWithdrawnUI")
        if withdrawn is None and isinstance(answer.get("position"), dict):
            withdrawn = answer["position"].get("equityWithdrawnUI")
        return _d(withdrawn)

    def long_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        """Asgard's closeFeesMetadata of this position's own close (the close this adapter signed), plus the
        penalty of each liquidation it took (the collateral seized at the liquidation price beyond the debt
        repaid)."""
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") == 0:
            return Decimal(0)
        reference, record = found
        if reference.close_signature is None or record.get("closeTxHash") != reference.close_signature:
            return Decimal(0)
        penalties = sum((max(Decimal(0), _d(event.get("seizedAmountUI")) * _d(event.get("liquidationPriceUSD"))
                                 - _d(event.get("repaidAmountUI")))
                         for event in record.get("liquidationEvents") or []), Decimal(0))
        return _d((record.get("closeFeesMetadata") or {}).get("protocolFeeUSD")) + penalties

    # --- risk and de-risking ---

    def health(self, user_id: str, position_id: str) -> LongHealth | None:
        return AsgardHealth(self.client, self.references).health(user_id, position_id)

    def _update(self, user_id: str, position_id: str, kind: str, extra: dict[str, Any], *,
                before_submit: Callable[[LongReference, list[str]], None] | None = None) -> dict[str, Any]:
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") != 0:
            raise VenueRejected(f"no open Asgard long for position {position_id}")
        reference, record = found
        built = self.client.position_update(kind, {
            "protocol": reference.protocol, "walletPubkey": reference.wallet, "positionPDA": record["positionPda"],
            "jitoTipLamport": self.jito_tip_lamports, "slippageBps": self.slippage_bps, "useDirectRoute": False,
            **extra})
        signed = self._sign(user_id, list(built["signedTxs"]))
        if before_submit is not None:
            before_submit(reference, signed)
        submitted = self.client.submit_position_update({
            "protocol": reference.protocol, "walletPubkey": reference.wallet, "positionPDA": record["positionPda"],
            "positionId": record.get("id"), "tokenATokenMint": record.get("tokenATokenMint"),
            "tokenBTokenMint": record.get("tokenBTokenMint"), "signedTxs": signed,
            "updateRecordData": built.get("updateRecordData"), "feesMetadata": built.get("feesMetadata"),
            "lendingApyAtUpdate": built.get("lendingApyAtUpdate"),
            "borrowingApyAtUpdate": built.get("borrowingApyAtUpdate")})
        # the equity a partial close pays to the wallet (after Asgard's fee) is in the built update's answer
        if built.get("equityWithdrawnUI") is not None and submitted.get("equityWithdrawnUI") is None:
            submitted = {**submitted, "equityWithdrawnUI": built["equityWithdrawnUI"]}
        return submitted

    def long_state(self, user_id: str, position_id: str) -> LongState | None:
        """The active long's size, value, debt and liquidation threshold (/refresh-positions) and its update count
        (/positions): what a rebalance sizes from."""
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") != 0:
            return None
        health = self.health(user_id, position_id)
        if health is None:
            return None
        threshold = liquidation_threshold(health.drop_to_liquidation, health.value_usd, health.debt_usdc)
        return LongState(health.size, health.value_usd, health.debt_usdc,
                         threshold if threshold is not None else Decimal(1), int(found[1].get("updateCount") or 0))

    def shrink_long(self, user_id: str, position_id: str, *, target_leverage: Decimal,
                    close_percentage: Decimal | None, updates_before: int) -> LongState:
        """Deleverage (or partially close, with `close_percentage`) once: if the position already has more
        updates than `updates_before`, an earlier attempt landed and nothing is sent. An answer lost after the
        submit: if the update is listed it landed, else it may still land (LongMayStillLand: the caller waits and
        retries; the update count tells a landed one)."""
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") != 0:
            raise VenueRejected(f"no open Asgard long for position {position_id}")
        paid_out: Decimal | None = None
        if int(found[1].get("updateCount") or 0) <= updates_before:
            try:
                if close_percentage is None:
                    self.deleverage(user_id, position_id, target_leverage)
                else:
                    withdrawn = self.partial_close(user_id, position_id, close_percentage).get("equityWithdrawnUI")
                    paid_out = None if withdrawn is None else _d(withdrawn)
            except AmbiguousVenueError as error:
                again = self._record(user_id, position_id)
                if again is None or int(again[1].get("updateCount") or 0) <= updates_before:
                    raise LongMayStillLand(f"the Asgard update of {position_id} is not listed yet and may "
                                           f"still land ({error})") from error
        state = self.long_state(user_id, position_id)
        if state is None:
            raise VenueRejected(f"the Asgard long of {position_id} is gone after its update")
        return state if paid_out is None else replace(state, paid_out_usd=paid_out)

    def repay_debt_once(self, user_id: str, position_id: str, usdc: Decimal, *, updates_before: int) -> LongState:
        """Repay `usdc` of the long's USDC debt from the user's Solana wallet (Asgard's /position/repay-debt: the
        debt token straight in, no swap, so the long's SOL and the hedge stay), once: when the position already
        has more updates than `updates_before`, an earlier attempt landed and nothing is sent. Before it is
        submitted, the signed update's signature and blockhash are kept on the long's reference; while a lost
        answer's transaction may still land (not listed by Asgard, not failed on Solana, its blockhash valid)
        every call raises LongMayStillLand instead of signing another. Returns the long's state after.

        Not /position/add-collateral: in the debt token (USDC) Asgard swaps it into the long token first, which
        grows the long's SOL (the short would have to follow) and leaves the debt as it was."""
        if not usdc.is_finite() or usdc <= 0 or usdc != usdc.quantize(Decimal(1).scaleb(-USDC.decimals)):
            raise VenueRejected(f"a debt repayment is a positive amount of whole micro-USDC, not {usdc}")
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") != 0:
            raise VenueRejected(f"no open Asgard long for position {position_id}")
        reference = found[0]
        if int(found[1].get("updateCount") or 0) > updates_before:
            self._forget_update(user_id, position_id, reference)  # it landed: nothing more to wait for
        else:
            if reference.update_after == updates_before and self._update_may_still_land(reference):
                raise LongMayStillLand(f"the Asgard repayment {str(reference.update_signature)[:12]}... of "
                                       f"{position_id} is not listed yet and may still land")
            self._repay(user_id, position_id, usdc, updates_before)
        state = self.long_state(user_id, position_id)
        if state is None:
            raise VenueRejected(f"the Asgard long of {position_id} is gone after its update")
        return state

    def _repay(self, user_id: str, position_id: str, usdc: Decimal, updates_before: int) -> None:
        def keep(reference: LongReference, signed: list[str]) -> None:
            self.references.put_reference(user_id, position_id, replace(
                reference, update_after=updates_before, update_signature=signature_of(signed[0]),
                update_blockhash=blockhash_of(signed[0])))

        try:
            self._update(user_id, position_id, "repay-debt",
                         {"repayAmountNative": int(usdc.scaleb(USDC.decimals))}, before_submit=keep)
        except AmbiguousVenueError as error:
            again = self._record(user_id, position_id)
            if again is None or int(again[1].get("updateCount") or 0) <= updates_before:
                raise LongMayStillLand(f"the Asgard repayment of {position_id} is not listed yet and may still "
                                       f"land ({error})") from error
        except (VenueRejected, TransientVenueError):
            # refused, or never sent: that transaction cannot land, so the next attempt need not wait for it
            self._forget_stored_update(user_id, position_id)
            raise
        self._forget_stored_update(user_id, position_id)  # landed: nothing more to wait for

    def _forget_stored_update(self, user_id: str, position_id: str) -> None:
        current = self.references.get_reference(user_id, position_id)
        if current is not None:
            self._forget_update(user_id, position_id, current)

    def _forget_update(self, user_id: str, position_id: str, reference: LongReference) -> None:
        if reference.update_signature is not None or reference.update_after is not None:
            self.references.put_reference(user_id, position_id, replace(
                reference, update_after=None, update_signature=None, update_blockhash=None))

    def _update_may_still_land(self, reference: LongReference) -> bool:
        if reference.update_signature is None:
            return False
        if self.solana is None:
            return True  # nothing to prove otherwise with
        status = self.solana.signature_status(reference.update_signature)
        if status is not None:
            return getattr(status, "error", None) is None  # landed (Asgard will count it) or failed for good
        return reference.update_blockhash is None or self.solana.blockhash_valid(reference.update_blockhash)

    def deleverage(self, user_id: str, position_id: str, target_leverage: Decimal) -> dict[str, Any]:
        return self._update(user_id, position_id, "deleverage", {"targetLeverage": float(target_leverage)})

    def add_collateral_usdc(self, user_id: str, position_id: str, usdc: Decimal) -> dict[str, Any]:
        return self._update(user_id, position_id, "add-collateral", {
            "collateralAmountNative": int(usdc.scaleb(USDC.decimals)), "collateralType": COLLATERAL_SHORT_TOKEN,
            "collateralMint": USDC.mint})

    def partial_close(self, user_id: str, position_id: str, percentage: Decimal) -> dict[str, Any]:
        return self._update(user_id, position_id, "partial-close", {"closePercentage": float(percentage)})


def wallet_from_directory(directory: WalletDirectory) -> Callable[[str], str]:
    """`wallet_of` for AsgardLongVenue backed by the users' Privy wallets."""

    def wallet_of(user_id: str) -> str:
        record = directory.get_wallets(user_id)
        if record is None:
            raise VenueRejected(f"user {user_id} has no Solana wallet yet")
        return record.solana_address

    return wallet_of


def fill_from_record(record: dict[str, Any]) -> LongFill:
    size = _d(record.get("tokenAAmountUICurrent") or record.get("tokenAAmountUIEntry"))
    price = _d(record.get("tokenAEntryPriceUSD"))
    fees = _d((record.get("openFeesMetadata") or {}).get("protocolFeeUSD"))
    return LongFill(reference=str(record["positionPda"]), size=size, entry_price_usd=price,
                    notional_usd=size * price, fees_usd=fees)


__all__ = ["AsgardLongVenue", "InMemoryLongReferences", "LongHealth", "LongReference", "LongReferenceStore",
           "markets_from_snapshots", "parse_health", "parse_markets", "wallet_from_directory"]
