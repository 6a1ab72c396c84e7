"""`dnbot local --state-dir`: what a trader did survives a restart, so paper trading can run for days.

Kept in `<state-dir>/local-state.pickle` (written at stop and every `AUTOSAVE_SECONDS`, atomically):
- the in-process AWS: every state-table item (users, sessions, settings, positions, jobs, activity, PnL...),
  the KMS keys' material (the envelope key that encrypts agent keys, the P-256 key that owns the Privy wallets),
  and the kill switch;
- the simulated venues: the Solana and Arbitrum ledgers, Asgard's positions, Hyperliquid's accounts, Privy's users
  and wallets, and the simulator's clock (its start and jumps, so the replayed market continues where it was).

The venues' objects are restored IN PLACE into the freshly built simulator (their routes hold them), with the
references between them (and to the world, its clock and market) mapped onto the new ones. The file is a pickle
of this process's own objects: it is local state, read only by the same checkout, never input from elsewhere.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

logger = logging.getLogger(__name__)
STATE_FILE = "local-state.pickle"
AUTOSAVE_SECONDS = 60.0
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _find_in_routes(app: Any, cls: type) -> Any | None:
    """The venue object a simulated venue's route handlers close over."""
    for route in getattr(app, "routes", []):
        endpoint = getattr(route, "endpoint", None)
        for cell in getattr(endpoint, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, cls):
                return value
    return None


def sim_objects(world: Any, venues: dict[str, Any]) -> dict[str, Any]:
    """The objects that hold the simulated venues' state, by name."""
    from dnbot.sim.hyperliquid import HyperliquidSim
    from dnbot.sim.privy import PrivySim

    found: dict[str, Any] = {}
    for name in ("solana_ledger", "arbitrum_ledger"):
        if getattr(world, name, None) is not None:
            found[name] = getattr(world, name)
    if "asgard" in venues:
        found["asgard"] = venues["asgard"].app.state.asgard
    hyperliquid = next((getattr(listener, "__self__", None) for listener in world.bridge_deposit_listeners
                        if isinstance(getattr(listener, "__self__", None), HyperliquidSim)), None)
    if hyperliquid is not None:
        found["hyperliquid"] = hyperliquid
    if "privy" in venues:
        privy = _find_in_routes(venues["privy"].app, PrivySim)
        if privy is not None:
            found["privy"] = privy
    return found


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared = shared

    def persistent_id(self, obj: Any) -> str | None:
        return self._shared.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):  # a lock is state of this process only: a fresh one on load
            return (threading.RLock if "RLock" in type(obj).__name__ else threading.Lock), ()
        if type(obj).__module__.startswith("cryptography."):  # keys held by the simulated Privy: as PEM
            if hasattr(obj, "private_bytes"):
                return _private_key, (obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()),)
            if hasattr(obj, "public_bytes"):
                return _public_key, (obj.public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo),)
        if isinstance(obj, types.FunctionType) and "<locals>" in obj.__qualname__:
            return _Unsaved, ()  # a closure made at construction (a wall clock): the fresh object's is kept
        return NotImplemented


def _private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, None)


def _public_key(pem: bytes) -> Any:
    return serialization.load_pem_public_key(pem)


class _Unsaved:
    """Stands for an attribute that is code, not state: restoring leaves the fresh object's value."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, shared: dict[str, Any]) -> None:
        super().__init__(file)
        self._shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return self._shared[pid]


def _shared_ids(world: Any, objects: dict[str, Any]) -> dict[str, Any]:
    """Objects referenced by persistent id instead of copied: the world and its parts, and each venue object."""
    shared = {"world": world, "clock": world.clock, "market": world.market, "faults": world.faults}
    shared.update({f"sim:{name}": obj for name, obj in objects.items()})
    return shared


class LocalState:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.exists()

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as file:
            saved: dict[str, Any] = pickle.load(file)
        return saved

    # --- save ---------------------------------------------------------------------------------------------

    def save(self, cloud: Any, world: Any, venues: dict[str, Any]) -> None:
        with self._save_lock:
            objects = sim_objects(world, venues)
            shared = _shared_ids(world, objects)
            by_id = {id(obj): pid for pid, obj in shared.items()}
            venue_state = {}
            for name, obj in objects.items():
                buffer = io.BytesIO()
                _Pickler(buffer, by_id).dump(dict(vars(obj)))
                venue_state[name] = buffer.getvalue()
            clock = world.clock
            state = {
                "version": 1,
                "dynamodb": _scan_table(cloud),
                "kms": _key_material(cloud),
                "kill_switch": _kill_switch(cloud),
                "clock": {"start": clock.start, "wall_at_start": clock._wall_at_start, "advanced": clock._advanced},
                "sim": venue_state,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            with partial.open("wb") as file:
                pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
            partial.chmod(0o600)
            os.replace(partial, self.path)

    def autosave(self, save: Callable[[], None]) -> None:
        def run() -> None:
            while not self._stop.wait(AUTOSAVE_SECONDS):
                try:
                    save()
                except Exception:  # a busy moment (state changing under the copy): the next round saves it
                    logger.warning("dnbot local: could not save the local state this time", exc_info=True)

        self._thread = threading.Thread(target=run, name="dnbot-state", daemon=True)
        self._thread.start()

    def stop_autosave(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- restore ------------------------------------------------------------------------------------------

    @staticmethod
    def restore_cloud(cloud: Any, saved: dict[str, Any]) -> None:
        """Before anything uses the keys or the table: the keys' material, the items, the kill switch."""
        _restore_key_material(cloud, saved["kms"])
        _restore_table(cloud, saved["dynamodb"])
        if saved.get("kill_switch"):
            from dnbot import resources

            cloud.client("ssm").put_parameter(Name=resources.KILL_SWITCH_PARAMETER, Value=saved["kill_switch"],
                                              Type="String", Overwrite=True)

    @staticmethod
    def restore_clock(world: Any, saved: dict[str, Any]) -> None:
        clock = world.clock
        with clock._lock:
            clock._wall_at_start = saved["clock"]["wall_at_start"]
            clock._advanced = saved["clock"]["advanced"]

    @staticmethod
    def restore_sim(world: Any, venues: dict[str, Any], saved: dict[str, Any]) -> None:
        objects = sim_objects(world, venues)
        shared = _shared_ids(world, objects)
        for name, blob in saved["sim"].items():
            target = objects.get(name)
            if target is None:
                logger.warning("dnbot local: the saved %s state has no venue to go to", name)
                continue
            state = _Unpickler(io.BytesIO(blob), shared).load()
            vars(target).update({key: value for key, value in state.items() if not isinstance(value, _Unsaved)})


def _scan_table(cloud: Any) -> list[dict[str, Any]]:
    from dnbot import resources

    client = cloud.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": resources.STATE_TABLE.local_name}
    while True:
        page = client.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _restore_table(cloud: Any, items: list[dict[str, Any]]) -> None:
    from dnbot import resources

    client = cloud.client("dynamodb")
    table = resources.STATE_TABLE.local_name
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        pending: dict[str, Any] = {table: batch}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _kms_backend() -> Any:
    from moto.kms.models import kms_backends

    from dnbot.local.cloud import LOCAL_ACCOUNT, LOCAL_REGION

    return kms_backends[LOCAL_ACCOUNT][LOCAL_REGION]


def _moto_keys(cloud: Any) -> dict[str, Any]:
    backend = _kms_backend()
    return {"envelope": backend.keys[cloud.envelope_key_id],
            "privy_authorization": backend.keys[cloud.privy_authorization_key_id]}


def _key_material(cloud: Any) -> dict[str, dict[str, bytes]]:
    saved: dict[str, dict[str, bytes]] = {}
    for name, key in _moto_keys(cloud).items():
        private = key.private_key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        saved[name] = {"key_material": key.key_material, "private_key": private, "key_id": key.id.encode()}
    return saved


def _restore_key_material(cloud: Any, saved: dict[str, dict[str, bytes]]) -> None:
    backend = _kms_backend()
    attributes = {"envelope": "envelope_key_id", "privy_authorization": "privy_authorization_key_id"}
    for name, key in _moto_keys(cloud).items():
        if name not in saved:
            continue
        key.key_material = saved[name]["key_material"]
        key.private_key.private_key = serialization.load_pem_private_key(saved[name]["private_key"], None)
        # a ciphertext names the key it was made with, and the adapters name it too: the key takes its old id
        old_id, new_id = saved[name]["key_id"].decode(), key.id
        if old_id != new_id:
            backend.keys[old_id] = backend.keys.pop(new_id)
            key.id, key.arn = old_id, key.arn.replace(new_id, old_id)
            setattr(cloud, attributes[name], old_id)


def _kill_switch(cloud: Any) -> str | None:
    from dnbot import resources

    try:
        value: str = cloud.client("ssm").get_parameter(Name=resources.KILL_SWITCH_PARAMETER)["Parameter"]["Value"]
    except Exception:  # not created (should not happen): the default applies on restore
        return None
    return value
