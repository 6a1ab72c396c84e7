"""`dnbot local` restarted right after Ctrl-C: the port whose old connections sit in TIME_WAIT is free to serve
(the probe binds with SO_REUSEADDR, as uvicorn does); a port someone listens on is not."""

from __future__ import annotations

import socket

from dnbot.local.system import port_is_free


def test_a_port_in_time_wait_is_free_and_a_listening_port_is_not() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not port_is_free("127.0.0.1", port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end of the connection goes to TIME_WAIT
    client.close()
    server.close()
    assert port_is_free("127.0.0.1", port)
