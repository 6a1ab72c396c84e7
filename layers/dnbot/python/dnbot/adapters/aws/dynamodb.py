"""DynamoDB single-table state (see docs/architecture.md, "State table"), through boto3's resource API.

Item types (pk / sk):
    RATES / LATEST                      the latest rates snapshot (overwritten each poll)
    RATES / AT#<iso>                    history, expires after `history_ttl` (TTL attribute)
    RATES / HOUR#<hour iso>             the last snapshot polled in each hour, expires after `hourly_ttl` (the
                                        strategy's 60-day funding lookback and its week of market means)
    RATES / PEG#<hour iso>#<LST>        that LST's best SOL rate at Asgard in the hour (a conditional write: a
                                        lower rate does not replace it), expires after `peg_ttl`: the depeg
                                        guard's reference, which a depeg later in the hour does not overwrite
    USER#<id> / PROFILE                 user; gsi1 = EMAIL#<email> / USER (login lookup)
    BOTS / RUNNING#<id>                 present while the user's bot runs (what the tick iterates)
    USER#<id> / POSITION#<pid>          position; gsi1 = STATUS#<status> / <user id>#<pid> (every open one)
    JOB#<id> / JOB                      a workflow run with its stages
    WS / CONN#<id>                      an open WebSocket connection (with its user, if logged in)
    USER#<id> / WALLETS                 the user's Privy wallet ids and addresses
    BLOB#<key> / BLOB                   an envelope-encrypted secret (agent wallet keys)
    USER#<id> / LONGREF#<pid>           where a position's long lives at Asgard (its PDA, tx signatures)
    NONCE#<signer> / NONCE              the last Hyperliquid nonce a signer used (every Lambda shares it)
    USER#<id> / BRIDGE#<transfer id>    a CCTP transfer (adapters/aws/bridge_transfers.py); gsi1 = BRIDGE#UNFINISHED /
                                        <user id>#<transfer id> until it is credited or abandoned and, for a burn
                                        on Solana, its event account's rent is reclaimed (a sparse index: the
                                        reconciler visits their users however long ago they last traded)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from dnbot.adapters.asgard.references import LongReference
from dnbot.adapters.aws.paging import query_all, query_page
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.lst_peg import PegQuote, peg_quotes
from dnbot.domain.positions import (
    Job,
    JobKind,
    JobStatus,
    Leg,
    Position,
    PositionStatus,
    RebalanceInFlight,
    Stage,
    StageStatus,
)
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot
from dnbot.ports import PositionConflict, PrivyWalletRecord, UserRecord

UNFINISHED_BRIDGE_KEY = "BRIDGE#UNFINISHED"  # gsi1 partition of the bridge transfers not credited or abandoned


def latest_rates_key() -> dict[str, str]:
    """The key of the latest rates snapshot (RATES / LATEST, overwritten each poll): where the store writes and reads
    it, and where `dnbot ops status` reads its age."""
    return {"pk": "RATES", "sk": "LATEST"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# --- codecs ------------------------------------------------------------------------------------------------


def snapshot_to_item(snapshot: RatesSnapshot) -> dict[str, Any]:
    funding = snapshot.funding
    return {
        "at": _iso(snapshot.at),
        "source": snapshot.source,
        "sol_price_usd": snapshot.sol_price_usd,
        "funding": {
            "funding_hourly": funding.funding_hourly,
            "predicted_funding_hourly": funding.predicted_funding_hourly,
            "mark_price": funding.mark_price,
            "oracle_price": funding.oracle_price,
            "open_interest": funding.open_interest,
        },
        "markets": [
            {
                "asset": m.asset.value,
                "protocol": m.protocol.label,
                "supply_apy": m.supply_apy,
                "usdc_borrow_apy": m.usdc_borrow_apy,
                "staking_apy": m.staking_apy,
                "max_leverage": m.max_leverage,
                "borrow_capacity_usd": m.borrow_capacity_usd,
                "deposit_capacity_usd": m.deposit_capacity_usd,
                "price_usd": m.price_usd,
            }
            for m in snapshot.markets
        ],
    }


def snapshot_from_item(item: dict[str, Any]) -> RatesSnapshot:
    funding = item["funding"]
    return RatesSnapshot(
        at=_dt(item["at"]),
        source=item["source"],
        sol_price_usd=Decimal(item["sol_price_usd"]),
        funding=FundingQuote(
            funding_hourly=Decimal(funding["funding_hourly"]),
            predicted_funding_hourly=_dec(funding.get("predicted_funding_hourly")),
            mark_price=Decimal(funding["mark_price"]),
            oracle_price=Decimal(funding["oracle_price"]),
            open_interest=_dec(funding.get("open_interest")),
        ),
        markets=tuple(
            LendingMarket(
                asset=Asset.parse(m["asset"]),
                protocol=Protocol.parse(m["protocol"]),
                supply_apy=Decimal(m["supply_apy"]),
                usdc_borrow_apy=Decimal(m["usdc_borrow_apy"]),
                staking_apy=Decimal(m["staking_apy"]),
                max_leverage=_dec(m.get("max_leverage")),
                borrow_capacity_usd=_dec(m.get("borrow_capacity_usd")),
                deposit_capacity_usd=_dec(m.get("deposit_capacity_usd")),
                price_usd=_dec(m.get("price_usd")),
            )
            for m in item["markets"]
        ),
    )


def _leg_to_item(leg: Leg | None) -> dict[str, Any] | None:
    if leg is None:
        return None
    return {"venue": leg.venue, "size": leg.size, "entry_price": leg.entry_price,
            "notional_usd": leg.notional_usd, "fees_usd": leg.fees_usd, "reference": leg.reference}


def _leg_from_item(item: dict[str, Any] | None) -> Leg | None:
    if not item:
        return None
    return Leg(venue=item["venue"], size=Decimal(item["size"]), entry_price=Decimal(item["entry_price"]),
               notional_usd=Decimal(item["notional_usd"]), fees_usd=Decimal(item["fees_usd"]),
               reference=item["reference"])


def position_to_item(position: Position) -> dict[str, Any]:
    return {
        "pk": f"USER#{position.user_id}",
        "sk": f"POSITION#{position.position_id}",
        "gsi1pk": f"STATUS#{position.status.value}",
        "gsi1sk": f"{position.user_id}#{position.position_id}",
        "type": "position",
        "position_id": position.position_id,
        "user_id": position.user_id,
        "asset": position.asset.value,
        "protocol": position.protocol.label,
        "leverage": position.leverage,
        "target_notional_usd": position.target_notional_usd,
        "status": position.status.value,
        "created_at": _iso(position.created_at),
        "updated_at": _iso(position.updated_at),
        "long_leg": _leg_to_item(position.long_leg),
        "short_leg": _leg_to_item(position.short_leg),
        "failure": position.failure,
        "realized_pnl_usd": position.realized_pnl_usd,
        "close_reason": position.close_reason,
        "version": position.version,
        "drift": position.drift,
        "rebalances": position.rebalances,
        "rebalancing": _rebalance_to_item(position.rebalancing),
        "peak_equity_usd": position.peak_equity_usd,
        "risk_warned": position.risk_warned,
        "rebalance_cash_usd": position.rebalance_cash_usd,
        "rebalance_collateral_usd": position.rebalance_collateral_usd,
        "rebalance_pnl_usd": position.rebalance_pnl_usd,
        "bridge_booked": position.bridge_booked,
    }


def _rebalance_to_item(intent: RebalanceInFlight | None) -> dict[str, Any] | None:
    if intent is None:
        return None
    return {"number": intent.number, "reduce_sol": intent.reduce_sol, "target_leverage": intent.target_leverage,
            "long_updates_before": intent.long_updates_before, "started_at": _iso(intent.started_at),
            "reason": intent.reason,
            "close_percentage": None if intent.close_percentage is None else str(intent.close_percentage),
            "long_equity_before": str(intent.long_equity_before),
            "long_debt_before": None if intent.long_debt_before is None else str(intent.long_debt_before),
            "long_size_before": None if intent.long_size_before is None else str(intent.long_size_before),
            "bridge": intent.bridge, "bridge_usd": None if intent.bridge_usd is None else str(intent.bridge_usd)}


def _rebalance_from_item(item: dict[str, Any] | None) -> RebalanceInFlight | None:
    if not item:
        return None
    return RebalanceInFlight(int(item["number"]), Decimal(item["reduce_sol"]), Decimal(item["target_leverage"]),
                             int(item["long_updates_before"]), _dt(item["started_at"]), item.get("reason", ""),
                             _dec(item.get("close_percentage")), Decimal(item.get("long_equity_before", "0")),
                             _dec(item.get("long_debt_before")), _dec(item.get("long_size_before")),
                             item.get("bridge"), _dec(item.get("bridge_usd")))


def position_from_item(item: dict[str, Any]) -> Position:
    return Position(
        position_id=item["position_id"],
        user_id=item["user_id"],
        asset=Asset.parse(item["asset"]),
        protocol=Protocol.parse(item["protocol"]),
        leverage=Decimal(item["leverage"]),
        target_notional_usd=Decimal(item["target_notional_usd"]),
        status=PositionStatus(item["status"]),
        created_at=_dt(item["created_at"]),
        updated_at=_dt(item["updated_at"]),
        long_leg=_leg_from_item(item.get("long_leg")),
        short_leg=_leg_from_item(item.get("short_leg")),
        failure=item.get("failure"),
        realized_pnl_usd=_dec(item.get("realized_pnl_usd")),
        close_reason=item.get("close_reason"),
        version=int(item.get("version", 0)),
        drift=item.get("drift"),
        rebalances=int(item.get("rebalances", 0)),
        rebalancing=_rebalance_from_item(item.get("rebalancing")),
        peak_equity_usd=_dec(item.get("peak_equity_usd")),
        risk_warned=item.get("risk_warned"),
        rebalance_cash_usd=Decimal(item.get("rebalance_cash_usd", 0)),
        rebalance_collateral_usd=Decimal(item.get("rebalance_collateral_usd", 0)),
        rebalance_pnl_usd=Decimal(item.get("rebalance_pnl_usd", 0)),
        bridge_booked=item.get("bridge_booked"),
    )


def job_to_item(job: Job) -> dict[str, Any]:
    return {
        "pk": f"JOB#{job.job_id}", "sk": "JOB", "type": "job",
        "job_id": job.job_id, "user_id": job.user_id, "position_id": job.position_id,
        "kind": job.kind.value, "status": job.status.value,
        "created_at": _iso(job.created_at), "updated_at": _iso(job.updated_at), "error": job.error,
        "stages": [{"name": s.name, "status": s.status.value, "at": _iso(s.at), "detail": s.detail}
                   for s in job.stages],
    }


def job_from_item(item: dict[str, Any]) -> Job:
    return Job(
        job_id=item["job_id"], user_id=item["user_id"], position_id=item["position_id"],
        kind=JobKind(item["kind"]), status=JobStatus(item["status"]),
        created_at=_dt(item["created_at"]), updated_at=_dt(item["updated_at"]), error=item.get("error"),
        stages=tuple(Stage(s["name"], StageStatus(s["status"]), _dt(s["at"]), s.get("detail", ""))
                     for s in item.get("stages", [])),
    )


def _strip_none(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB stores None as NULL; dropping it keeps items small and reads identical."""
    return {k: (_strip_none(v) if isinstance(v, dict) else v) for k, v in item.items() if v is not None}


# --- the store ----------------------------------------------------------------------------------------------


class DynamoStateStore:
    """Implements RatesStore, UserStore, PositionStore and JobStore on one table (sessions: aws/sessions.py)."""

    def __init__(self, table: Any, clock: Callable[[], datetime], history_ttl: timedelta = timedelta(days=7),
                 hourly_ttl: timedelta = timedelta(days=70), peg_ttl: timedelta = timedelta(days=8)):
        self._table = table  # a boto3 dynamodb.Table
        self._now = clock
        self._history_ttl = history_ttl
        self._hourly_ttl = hourly_ttl
        self._peg_ttl = peg_ttl  # over the depeg guard's week of lookback

    # rates
    def put_snapshot(self, snapshot: RatesSnapshot) -> None:
        body = _strip_none(snapshot_to_item(snapshot))
        with self._table.batch_writer() as batch:
            batch.put_item(Item={**latest_rates_key(), "type": "rates", **body})
            batch.put_item(Item={"pk": "RATES", "sk": f"AT#{body['at']}", "type": "rates", **body,
                                 "expires_at": _epoch(snapshot.at + self._history_ttl)})
            hour = snapshot.at.replace(minute=0, second=0, microsecond=0)
            batch.put_item(Item={"pk": "RATES", "sk": f"HOUR#{_iso(hour)}", "type": "rates", **body,
                                 "expires_at": _epoch(snapshot.at + self._hourly_ttl)})
        for quote in peg_quotes(snapshot):
            self._keep_peg_quote(quote)

    def _keep_peg_quote(self, quote: PegQuote) -> None:
        """The hour's item keeps the LST's best rate: the first poll of the hour writes it, a later one only if
        its rate is higher (so a depeg after the hour's first poll still has the healthy rate to compare with)."""
        hour = quote.at.replace(minute=0, second=0, microsecond=0)
        try:
            self._table.put_item(
                Item={"pk": "RATES", "sk": f"PEG#{_iso(hour)}#{quote.asset.value}", "type": "peg",
                      "asset": quote.asset.value, "at": _iso(quote.at), "sol_rate": quote.sol_rate,
                      "staking_apy": quote.staking_apy, "expires_at": _epoch(quote.at + self._peg_ttl)},
                ConditionExpression=Attr("sol_rate").not_exists() | Attr("sol_rate").lt(quote.sol_rate))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def peg_quotes(self, since: datetime) -> list[PegQuote]:
        """Each LST's best rate in each hour from the hour of `since` on, oldest first (every page)."""
        start = since.replace(minute=0, second=0, microsecond=0)
        condition = Key("pk").eq("RATES") & Key("sk").between(f"PEG#{_iso(start)}", "PEG#~")
        return [PegQuote(Asset.parse(i["asset"]), _dt(i["at"]), Decimal(i["sol_rate"]), Decimal(i["staking_apy"]))
                for i in query_all(self._table, KeyConditionExpression=condition)]

    def latest_snapshot(self) -> RatesSnapshot | None:
        item = self._table.get_item(Key=latest_rates_key()).get("Item")
        return None if item is None else snapshot_from_item(item)

    def recent_snapshots(self, since: datetime) -> list[RatesSnapshot]:
        """Every snapshot polled since `since`, oldest first (every page: one Query answers at most 1 MB)."""
        condition = Key("pk").eq("RATES") & Key("sk").between(f"AT#{_iso(since)}", "AT#~")
        return [snapshot_from_item(i) for i in query_all(self._table, KeyConditionExpression=condition)]

    def hourly_snapshots(self, since: datetime) -> list[RatesSnapshot]:
        """The last snapshot polled in each hour from the hour of `since` on, oldest first (every page)."""
        start = since.replace(minute=0, second=0, microsecond=0)
        condition = Key("pk").eq("RATES") & Key("sk").between(f"HOUR#{_iso(start)}", "HOUR#~")
        return [snapshot_from_item(i) for i in query_all(self._table, KeyConditionExpression=condition)]

    # users
    def get_user(self, user_id: str) -> UserRecord | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": "PROFILE"}).get("Item")
        return None if item is None else _user_from_item(item)

    def find_user_by_email(self, email: str) -> UserRecord | None:
        response = self._table.query(IndexName="gsi1",
                                     KeyConditionExpression=Key("gsi1pk").eq(f"EMAIL#{email.lower()}"))
        items = response.get("Items", [])
        return _user_from_item(items[0]) if items else None

    def put_user(self, user: UserRecord) -> None:
        item = _strip_none({
            "pk": f"USER#{user.user_id}", "sk": "PROFILE", "type": "user",
            "gsi1pk": f"EMAIL#{user.email.lower()}", "gsi1sk": "USER",
            "user_id": user.user_id, "email": user.email, "created_at": _iso(user.created_at),
            "solana_address": user.solana_address, "evm_address": user.evm_address,
            "bot_status": user.bot_status, "settings": user.settings,
        })
        running_key = {"pk": "BOTS", "sk": f"RUNNING#{user.user_id}"}
        with self._table.batch_writer() as batch:
            batch.put_item(Item=item)
            if user.bot_status == "running":
                batch.put_item(Item={**running_key, "type": "running", "user_id": user.user_id})
            else:
                batch.delete_item(Key=running_key)

    def running_user_ids(self) -> list[str]:
        condition = Key("pk").eq("BOTS") & Key("sk").begins_with("RUNNING#")
        return [item["user_id"] for item in query_all(self._table, KeyConditionExpression=condition)]

    def running_users_page(self, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        """One page of running users' ids and the cursor of the next page (None: the last page)."""
        items, after = query_page(self._table, cursor, limit,
                                  KeyConditionExpression=Key("pk").eq("BOTS") & Key("sk").begins_with("RUNNING#"))
        return [item["user_id"] for item in items], after

    def positions_with_status_page(self, status: PositionStatus, cursor: str | None,
                                   limit: int) -> tuple[list[Position], str | None]:
        """One page of every user's positions in `status` (gsi1) and the cursor of the next page."""
        items, after = query_page(self._table, cursor, limit, IndexName="gsi1",
                                  KeyConditionExpression=Key("gsi1pk").eq(f"STATUS#{status.value}"))
        return [position_from_item(i) for i in items], after

    # positions
    def create_position(self, position: Position) -> None:
        try:
            self._table.put_item(Item=_strip_none(position_to_item(position)),
                                 ConditionExpression=Attr("pk").not_exists())
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise PositionConflict(f"position {position.position_id} exists") from error
            raise

    def get_position(self, user_id: str, position_id: str) -> Position | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": f"POSITION#{position_id}"}).get("Item")
        return None if item is None else position_from_item(item)

    def save_position(self, position: Position, *, expected_updated_at: datetime | None = None) -> Position:
        """A versioned conditional write: only if the stored version is still `position.version` (the one it
        was read at); stores and returns it at version + 1. Another writer in between -> PositionConflict."""
        saved = replace(position, version=position.version + 1)
        condition: Any = Attr("version").eq(position.version)
        if position.version == 0:  # written before versions existed, or never saved since its creation
            condition = condition | Attr("version").not_exists()
        condition = Attr("pk").exists() & condition
        if expected_updated_at is not None:
            condition = condition & Attr("updated_at").eq(_iso(expected_updated_at))
        try:
            self._table.put_item(Item=_strip_none(position_to_item(saved)), ConditionExpression=condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise PositionConflict(f"position {position.position_id} changed underneath") from error
            raise
        return saved

    def list_positions(self, user_id: str) -> list[Position]:
        """Every position of the user, newest first (every page: one Query answers at most 1 MB)."""
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("POSITION#")
        positions = [position_from_item(i) for i in query_all(self._table, KeyConditionExpression=condition)]
        return sorted(positions, key=lambda p: p.created_at, reverse=True)

    def positions_with_status(self, status: PositionStatus) -> list[Position]:
        return [position_from_item(i) for i in query_all(
            self._table, IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq(f"STATUS#{status.value}"))]

    def user_ids_to_reconcile(self, failed_since: datetime) -> list[str]:
        """Every user with a live position, or one failed or closed since `failed_since`, or a bridge transfer
        unfinished however old (not credited or abandoned, or a Solana burn's rent not reclaimed yet: the
        reconciler's round resumes it).

        One gsi1 query per status (STATUS#<status>, sort key <user id>#<position id>, keys only) and one of the
        unfinished transfers (BRIDGE#UNFINISHED): the users come from the index keys, so no item is read; failed
        and closed positions are limited to the recent by a filter on updated_at (projected: the index holds every
        attribute)."""
        users: set[str] = set()
        partitions = [(f"STATUS#{status.value}", status.is_live) for status in PositionStatus]
        for partition, every in [*partitions, (UNFINISHED_BRIDGE_KEY, True)]:
            kwargs: dict[str, Any] = {"IndexName": "gsi1", "ProjectionExpression": "gsi1sk",
                                      "KeyConditionExpression": Key("gsi1pk").eq(partition)}
            if not every:
                kwargs["FilterExpression"] = Attr("updated_at").gte(_iso(failed_since))
            users.update(str(item["gsi1sk"]).split("#", 1)[0] for item in query_all(self._table, **kwargs))
        return sorted(users)

    # jobs
    def put_job(self, job: Job) -> None:
        self._table.put_item(Item=_strip_none(job_to_item(job)))

    def get_job(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key={"pk": f"JOB#{job_id}", "sk": "JOB"}).get("Item")
        return None if item is None else job_from_item(item)

    # WebSocket connections
    def add_connection(self, connection_id: str, user_id: str | None) -> None:
        item: dict[str, Any] = {"pk": "WS", "sk": f"CONN#{connection_id}", "type": "connection",
                                "connection_id": connection_id,
                                "expires_at": _epoch(self._now() + timedelta(hours=2))}  # API Gateway's limit
        if user_id:
            item["user_id"] = user_id
        self._table.put_item(Item=item)

    def remove_connection(self, connection_id: str) -> None:
        self._table.delete_item(Key={"pk": "WS", "sk": f"CONN#{connection_id}"})

    def connections(self, user_id: str | None = None) -> list[str]:
        now = _epoch(self._now())
        condition = Key("pk").eq("WS") & Key("sk").begins_with("CONN#")
        return [item["connection_id"] for item in query_all(self._table, KeyConditionExpression=condition)
                if int(item["expires_at"]) > now and (user_id is None or item.get("user_id") == user_id)]

    # Privy wallet directory
    def get_wallets(self, user_id: str) -> PrivyWalletRecord | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": "WALLETS"}).get("Item")
        if item is None:
            return None
        return PrivyWalletRecord(item["solana_wallet_id"], item["solana_address"], item["evm_wallet_id"],
                                 item["evm_address"])

    def put_wallets(self, user_id: str, record: PrivyWalletRecord) -> None:
        from dnbot.adapters.aws.deposits import wallet_registry_item

        self._table.put_item(Item={"pk": f"USER#{user_id}", "sk": "WALLETS", "type": "wallets",
                                   "solana_wallet_id": record.solana_wallet_id,
                                   "solana_address": record.solana_address,
                                   "evm_wallet_id": record.evm_wallet_id, "evm_address": record.evm_address})
        # the deposit sweep's list of addresses to watch (adapters/aws/deposits.py)
        self._table.put_item(Item=wallet_registry_item(user_id, record.evm_address))

    # encrypted blobs
    def put_blob(self, key: str, blob: dict[str, str]) -> None:
        self._table.put_item(Item={"pk": f"BLOB#{key}", "sk": "BLOB", "type": "blob", "blob": blob})

    def get_blob(self, key: str) -> dict[str, str] | None:
        item = self._table.get_item(Key={"pk": f"BLOB#{key}", "sk": "BLOB"}).get("Item")
        return None if item is None else {k: str(v) for k, v in item["blob"].items()}

    # Asgard long references (the AsgardLongVenue's LongReferenceStore)
    def get_reference(self, user_id: str, position_id: str) -> LongReference | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": f"LONGREF#{position_id}"}).get("Item")
        return None if item is None else _reference_from_item(item)

    def put_reference(self, user_id: str, position_id: str, reference: LongReference) -> None:
        self._table.put_item(Item=_strip_none({
            "pk": f"USER#{user_id}", "sk": f"LONGREF#{position_id}", "type": "long_reference",
            "wallet": reference.wallet, "protocol": reference.protocol, "pda": reference.pda,
            "open_signature": reference.open_signature, "close_signature": reference.close_signature,
            "open_blockhash": reference.open_blockhash, "update_after": reference.update_after,
            "update_signature": reference.update_signature, "update_blockhash": reference.update_blockhash}))

    def long_references(self, user_id: str) -> dict[str, LongReference]:
        """position id -> where its long lives, for every position of the user that ever sent one to Asgard."""
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("LONGREF#")
        return {str(item["sk"]).removeprefix("LONGREF#"): _reference_from_item(item)
                for item in query_all(self._table, KeyConditionExpression=condition)}

    # Hyperliquid nonces (the NonceSource of the trading adapter)
    def next_nonce(self, signer: str) -> int:
        """max(now in ms, last + 1), claimed with a conditional write: two processes never get the same one."""
        key = {"pk": f"NONCE#{signer.lower()}", "sk": "NONCE"}
        for _ in range(20):
            item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            last = int(item["last"]) if item else 0
            candidate = max(int(self._now().timestamp() * 1000), last + 1)
            try:
                self._table.put_item(Item={**key, "type": "nonce", "last": candidate},
                                     ConditionExpression=Attr("pk").not_exists() | Attr("last").lt(candidate))
                return candidate
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError(f"could not claim a nonce for {signer} after 20 tries")

    # expiring items
    def put_expiring(self, pk: str, sk: str, attributes: dict[str, Any], expires_at: datetime) -> None:
        self._table.put_item(Item={"pk": pk, "sk": sk, **attributes, "expires_at": _epoch(expires_at)})

    def get_unexpired(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(Key={"pk": pk, "sk": sk}).get("Item")
        if item is None or int(item["expires_at"]) <= _epoch(self._now()):
            return None
        return item

    def delete(self, pk: str, sk: str) -> None:
        self._table.delete_item(Key={"pk": pk, "sk": sk})



def _reference_from_item(item: dict[str, Any]) -> LongReference:
    return LongReference(wallet=item["wallet"], protocol=int(item["protocol"]), pda=item["pda"],
                         open_signature=item.get("open_signature"), close_signature=item.get("close_signature"),
                         open_blockhash=item.get("open_blockhash"),
                         update_after=None if item.get("update_after") is None else int(item["update_after"]),
                         update_signature=item.get("update_signature"), update_blockhash=item.get("update_blockhash"))


def _user_from_item(item: dict[str, Any]) -> UserRecord:
    return UserRecord(
        user_id=item["user_id"], email=item["email"], created_at=_dt(item["created_at"]),
        solana_address=item.get("solana_address"), evm_address=item.get("evm_address"),
        bot_status=item.get("bot_status", "standby"), settings=item.get("settings"),
    )

