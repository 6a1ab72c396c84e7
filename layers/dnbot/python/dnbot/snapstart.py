"""Lambda SnapStart runtime hooks: what runs before Lambda snapshots an initialized function, and after each copy
is restored from that snapshot.

SnapStart (Python 3.12+, on published versions) initializes a function once and resumes every new execution
environment from the same memory image. Anything init made that must be unique per copy would then be shared:
the `random` module's state, connections, cached credentials and secrets. The hooks registered here refresh them
(docs/performance.md, "SnapStart").

Lambda's Python runtimes ship the `snapshot_restore_py` library and run the hooks registered with it; elsewhere
(Python 3.11, `dnbot local`, the tests) it is absent, so hooks go to this module's own registry too, and
`run_before_snapshot()` / `run_after_restore()` run them in Lambda's order (tests simulate a restore with them).
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

    from dnbot.runtime import Runtime

Hook = Callable[[], None]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []

try:  # present in Lambda's managed Python runtimes (3.12+), absent here
    from snapshot_restore_py import register_after_restore as _lambda_after_restore
    from snapshot_restore_py import register_before_snapshot as _lambda_before_snapshot
except ImportError:
    _lambda_after_restore = _lambda_before_snapshot = None


def before_snapshot(hook: Hook) -> Hook:
    """Register `hook` to run before Lambda takes the snapshot (decorator)."""
    _before_snapshot.append(hook)
    if _lambda_before_snapshot is not None:
        _lambda_before_snapshot(hook)
    return hook


def after_restore(hook: Hook) -> Hook:
    """Register `hook` to run in every copy restored from the snapshot, before its first event (decorator)."""
    _after_restore.append(hook)
    if _lambda_after_restore is not None:
        _lambda_after_restore(hook)
    return hook


def run_before_snapshot() -> None:
    """What Lambda does before snapshotting: the hooks in reverse order of registration."""
    for hook in reversed(_before_snapshot):
        hook()


def run_after_restore() -> None:
    """What Lambda does in a restored copy: the hooks in order of registration."""
    for hook in _after_restore:
        hook()


@after_restore
def _reseed_random() -> None:
    # `random` was seeded from os.urandom when it was imported, at init: every restored copy would draw the same
    # sequence (retry jitter, sampling). os.urandom itself is fresh after a restore, so reseed from it.
    random.seed()


@after_restore
def _forget_boto3_default_session() -> None:
    # boto3.client(...) outside the runtime caches a session (and its credentials) module-wide.
    import sys

    boto3_module: Any = sys.modules.get("boto3")
    if boto3_module is not None:
        boto3_module.DEFAULT_SESSION = None


def fresh_boto3_session(stale: boto3.Session) -> boto3.Session:
    """A session with no credentials or connections of the snapshot's, sharing its parsed service models (the
    botocore loader caches them: identical in every copy, and the costly part of building a client)."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", stale._session.get_component("data_loader"))
    return boto3.Session(botocore_session=core, region_name=stale.region_name)


def prime(runtime: Runtime, *, modules: Iterable[str] = (), aws_services: Iterable[str] = ()) -> None:
    """Before the snapshot: read the settings, import what the function loads lazily and parse the AWS service
    models it uses, so a restored copy starts with them. No network call: building a boto3 client does none,
    and a snapshot must not depend on the venues or secrets being reachable when a version is published."""
    _ = runtime.settings
    for module in modules:
        importlib.import_module(module)
    for service in aws_services:
        runtime.client(service)
