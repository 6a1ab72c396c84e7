"""Backtesting on recorded data and the `dnbot opportunities` / `dnbot backtest` commands."""
