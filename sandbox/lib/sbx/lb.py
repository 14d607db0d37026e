"""A load balancer in front of an API server, as managed clusters have (AKS, GKE): a TCP proxy
that can cut every open connection at once, the way an idle timeout cuts a long `kubectl exec`
(AKS: 4-30 minutes). The client sees its connection reset with no exit status; whatever the
exec started in the pod goes on.

    python3 -m sbx.lb LISTEN_PORT TARGET_PORT     # SIGUSR1: cut every open connection

New connections are accepted again at once (the client reconnects, as through a real LB)."""
import asyncio
import signal
import socket
import sys

_open: set[asyncio.StreamWriter] = set()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _handle(client_r, client_w, target_port: int) -> None:
    try:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_w.close()
        return
    _open.update((client_w, server_w))
    try:
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
    finally:
        _open.difference_update((client_w, server_w))


def _cut() -> None:
    """RST, not FIN: what the client of a load balancer that dropped its flow sees."""
    n = 0
    for w in list(_open):
        sock = w.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        w.transport.abort()
        n += 1
    _open.clear()
    print(f"lb: cut {n} connection ends", flush=True)


async def main(listen: int, target: int) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(r, w, target), "127.0.0.1", listen)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _cut)
    print(f"lb: 127.0.0.1:{listen} -> 127.0.0.1:{target}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
