"""The operator's kill switch: a plain value the pure strategy reads; where it is stored is the adapters' business."""

from __future__ import annotations

from enum import Enum


class KillSwitch(str, Enum):
    """Values of the operator's kill-switch parameter."""

    OFF = "off"  # trading as usual
    NO_NEW_POSITIONS = "no-new-positions"  # hold and protect what is open, open nothing new
    CLOSE_ALL = "close-all"  # close every open position, open nothing
