"""A simulated market on 127.0.0.1 that speaks the venues' own wire protocols, replaying recorded real data."""
