"""A controllable TCP relay for the multi-provider sandbox (tests/kenpomulti.py).

Every network path between two "hosts" of the sandbox that a test may want
to break or slow down runs through one route of this relay: the replication
of one provider from another, and a kenpod's path to the provider of the
other host.  Each route listens on a free 127.0.0.1 port and forwards to a
fixed target port.  A route can be

  cut       every connection on it is closed at once and new ones are
            closed as soon as they are accepted (the peer sees the
            connection drop, as when a link or a firewall cuts it);
  restored  new connections are forwarded again;
  delayed   every chunk of data waits the given number of milliseconds
            before it is passed on, in each direction, in order (a round
            trip takes twice the delay longer), as `tc qdisc ... netem
            delay` does on a link, without root or a network namespace.

The relay runs as its own process (`kenpomulti.py relay DIR`): it reads the
routes from DIR/relay.json ({name: target port}), writes the ports it
listens on to DIR/relay.ports (JSON) and its pid to DIR/relay.pid, and
takes commands on the Unix socket DIR/relay.ctl, one line each, answering
one line: "cut NAME", "restore NAME", "delay NAME MS", "stats NAME"
("ok ..." or "error ...").  `Control` is the client.
"""

import asyncio
import json
import os
import signal
import socket
import time

CHUNK = 65536


class Route:
    """One listening port and the connections it relays."""

    def __init__(self, name, target):
        self.name = name
        self.target = target
        self.cut = False
        self.delay = 0.0            # seconds, one way
        self.conns = set()          # (client writer, server writer)
        self.accepted = 0
        self.refused = 0

    async def handle(self, creader, cwriter):
        self.accepted += 1
        if self.cut:
            self.refused += 1
            _abort(cwriter)
            return
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            # The target is down: the client sees its connection closed.
            _abort(cwriter)
            return
        for w in (cwriter, swriter):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = (cwriter, swriter)
        self.conns.add(pair)
        try:
            await asyncio.gather(self._pipe(creader, swriter, pair),
                                 self._pipe(sreader, cwriter, pair))
        finally:
            self.conns.discard(pair)
            for w in pair:
                _abort(w)

    async def _pipe(self, reader, writer, pair):
        """Copy reader to writer, each chunk after the route's delay."""
        queue = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, writer, pair))
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    break
                queue.put_nowait((time.monotonic() + self.delay, data))
        finally:
            queue.put_nowait((0.0, None))
            await sender

    async def _send(self, queue, writer, pair):
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                break
        for w in pair:
            _abort(w)

    def cut_now(self):
        self.cut = True
        for pair in list(self.conns):
            for w in pair:
                _abort(w)


def _abort(writer):
    try:
        writer.transport.abort()
    except (AttributeError, OSError):
        pass


async def _control(routes, reader, writer):
    try:
        line = (await reader.readline()).decode("ascii", "replace").split()
        answer = _command(routes, line)
    except Exception as e:  # noqa: BLE001 - the answer names it
        answer = "error %s" % e
    writer.write((answer + "\n").encode())
    await writer.drain()
    writer.close()


def _command(routes, words):
    if len(words) < 2 or words[1] not in routes:
        return "error usage: cut|restore|delay|stats NAME [MS]"
    cmd, route = words[0], routes[words[1]]
    if cmd == "cut" and len(words) == 2:
        route.cut_now()
    elif cmd == "restore" and len(words) == 2:
        route.cut = False
    elif cmd == "delay" and len(words) == 3:
        ms = float(words[2])
        if not 0 <= ms <= 10000:
            return "error delay: 0 to 10000 ms"
        route.delay = ms / 1000.0
    elif cmd != "stats" or len(words) != 2:
        return "error unknown command"
    return "ok %s" % json.dumps({"cut": route.cut, "delay_ms": route.delay * 1000,
                                 "open": len(route.conns), "accepted": route.accepted,
                                 "refused": route.refused})


def run(directory):
    """Serve the routes of DIR/relay.json until SIGTERM."""
    with open(os.path.join(directory, "relay.json")) as f:
        spec = json.load(f)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    routes, ports = {}, {}
    for name, target in spec.items():
        route = Route(name, int(target))
        server = loop.run_until_complete(asyncio.start_server(route.handle, "127.0.0.1", 0))
        routes[name] = route
        ports[name] = server.sockets[0].getsockname()[1]
    ctl = os.path.join(directory, "relay.ctl")
    if os.path.exists(ctl):
        os.unlink(ctl)
    loop.run_until_complete(asyncio.start_unix_server(
        lambda r, w: _control(routes, r, w), ctl))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    tmp = os.path.join(directory, "relay.ports.tmp")
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.rename(tmp, os.path.join(directory, "relay.ports"))
    with open(os.path.join(directory, "relay.pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    try:
        loop.run_forever()
    finally:
        for route in routes.values():
            route.cut_now()
        os.unlink(ctl)
    return 0


class Control:
    """The client of a running relay's control socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "relay.ctl")

    def command(self, *words):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(self.path)
            s.sendall((" ".join(str(w) for w in words) + "\n").encode())
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        answer = answer.decode().strip()
        if not answer.startswith("ok"):
            raise RuntimeError("relay: %s: %s" % (" ".join(map(str, words)), answer))
        return json.loads(answer[3:])

    def cut(self, name):
        return self.command("cut", name)

    def restore(self, name):
        return self.command("restore", name)

    def delay(self, name, ms):
        return self.command("delay", name, ms)

    def stats(self, name):
        return self.command("stats", name)
