"""Loading the Lambda entry points (functions/<name>/handler.py) in-process, exactly as Lambda imports them."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dnbot
from dnbot.resources import FUNCTIONS

Handler = Callable[[dict[str, Any], Any], Any]


def repo_root() -> Path:
    """The checkout dnbot runs from (the library is installed editable from layers/dnbot/python)."""
    root = Path(dnbot.__file__).resolve().parents[4]
    if not (root / "functions").is_dir():
        raise FileNotFoundError(f"no functions/ directory under {root}: run dnbot local from a checkout")
    return root


@dataclass(frozen=True)
class LambdaContext:
    """What a handler may read from its context (Powertools' inject_lambda_context reads these)."""

    function_name: str
    memory_limit_in_mb: int
    aws_request_id: str
    invoked_function_arn: str
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class LocalFunctions:
    """Every function in resources.FUNCTIONS, imported once, callable by name."""

    def __init__(self, root: Path | None = None, account: str = "123456789012", region: str = "us-east-1") -> None:
        self._root = root or repo_root()
        self._account = account
        self._region = region
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account}:function:dnbot-{name}"

    def name_from(self, function_name_or_arn: str) -> str:
        tail = function_name_or_arn.split(":function:")[-1].split(":")[0]
        name = tail.removeprefix("dnbot-")
        if name not in {spec.name for spec in FUNCTIONS}:
            raise KeyError(f"no local function for {function_name_or_arn!r}")
        return name

    def handler(self, name: str) -> Handler:
        with self._lock:
            if name not in self._handlers:
                path = self._root / "functions" / name / "handler.py"
                spec = importlib.util.spec_from_file_location(f"dnbot_functions_{name}", path)
                if spec is None or spec.loader is None:
                    raise FileNotFoundError(path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._handlers[name] = module.handler
            return self._handlers[name]

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        _ensure_event_loop()
        with self._lock:
            self._counter += 1
            request_id = f"local-{self._counter:08d}"
        spec = next(s for s in FUNCTIONS if s.name == name)
        context = LambdaContext(f"dnbot-{name}", spec.memory_mb, request_id, self.arn(name))
        return self.handler(name)(event, context)


def _ensure_event_loop() -> None:
    """Each Lambda process has a usable event loop (Mangum runs the ASGI app on the current one); in this
    shared process another component may have closed it, or the calling thread may never have had one."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())
