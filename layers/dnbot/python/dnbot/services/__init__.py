"""Use cases. Each service takes its ports in its constructor and holds no I/O of its own."""
