"""Loading recorded real market data (the vendored copy, or any directory laid out like it)."""

from dnbot.marketdata.recorded import Candle, LendingPoint, RecordedData, default_data_dir, hour_floor

__all__ = ["Candle", "LendingPoint", "RecordedData", "default_data_dir", "hour_floor"]
