"""The open and close state machines (Amazon States Language), defined once for CDK and `dnbot local`."""

from dnbot.workflows.definitions import (
    STEP_FUNCTION_PLACEHOLDER,
    close_position_definition,
    definition_for,
    open_position_definition,
)

__all__ = [
    "STEP_FUNCTION_PLACEHOLDER",
    "close_position_definition",
    "definition_for",
    "open_position_definition",
]
