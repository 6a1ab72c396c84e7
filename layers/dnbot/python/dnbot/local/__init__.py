"""The embedded default: the whole system on one machine, no cloud account (`dnbot local`)."""
