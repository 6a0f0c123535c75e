"""A NATS server with JetStream as a child process on a free loopback port: what the tests of
the cluster's parts (and, later, a one-machine cluster) start. A real deployment points every
process at a NATS of its own (``docs/cluster.md``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from dreamcommons.contracts.lifecycle import StartStop
from dreamcommons.server.broker import free_port, start_on_free_ports
from dreamcommons.server.cluster.errors import NatsUnavailable

_CANDIDATES = ("nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server")


def find_nats_server() -> str:
    """The path of the ``nats-server`` binary; ``NatsUnavailable`` says how to install it."""
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise NatsUnavailable(
        "nats-server is not installed: run `make test-setup` as root, "
        "or `apt-get install nats-server` (Debian's package has JetStream)"
    )


def _healthy(monitor: str, port: int) -> bool:
    """Whether the NATS whose monitoring answers at ``monitor`` is up, and is the one serving
    ``port``: a monitoring port taken by another NATS, between choosing it and binding it,
    would otherwise say "ok" for a server that has exited."""
    try:
        with urllib.request.urlopen(f"{monitor}/healthz", timeout=1.0) as answer:
            if answer.status != 200:
                return False
        with urllib.request.urlopen(f"{monitor}/varz", timeout=1.0) as answer:
            return bool(json.load(answer).get("port") == port)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class NatsProcess(StartStop):
    """``async with NatsProcess() as nats:`` then ``nats.url``. JetStream keeps its files in
    ``store_dir`` (a temporary one unless given); ``stop()`` and ``start()`` again keep the
    same port and store, for tests of NATS restarts. Ports it chose itself and found taken at
    its first start are chosen anew (``port`` then says which)."""

    def __init__(self, port: int | None = None, *, store_dir: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.monitor_port = free_port()
        self._may_choose_again = port is None  # until a first start succeeds
        self.binary = find_nats_server()
        self._own_dir = store_dir is None
        self.workdir = store_dir or Path(tempfile.mkdtemp(prefix="dreamcommons-nats-"))
        self.store_dir = self.workdir / "store"  # nats-server keeps JetStream in its jetstream/
        self.log = self.workdir / "nats-server.log"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        # With -js, its /healthz says "ok" only once JetStream is up and has loaded its
        # streams (after a restart too), not merely once the client port answers.
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, ready_within: float = 10.0) -> None:
        choose_again = self._choose_ports if self._may_choose_again else None
        await start_on_free_ports(lambda: self._start_once(ready_within), choose_again)
        self._may_choose_again = False  # a restart keeps the port its clients know

    def _choose_ports(self) -> None:
        self.port, self.monitor_port = free_port(), free_port()
        self.log.unlink(missing_ok=True)  # the next attempt's errors are its own

    async def _start_once(self, ready_within: float) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            "-js",
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-sd",
            str(self.store_dir),
            "-l",
            str(self.log),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # A session of its own: a Ctrl-C at the terminal reaches the program that started
            # NATS, which stops it last, after its clients.
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(ready_within):
                while not await asyncio.to_thread(_healthy, self.monitor_url, self.port):
                    if self._process.returncode is not None:
                        raise NatsUnavailable(f"nats-server exited: {self._read_log()}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            await self.stop()
            raise NatsUnavailable(
                f"nats-server not ready within {ready_within} s: {self._read_log()}"
            ) from None

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, and SIGKILL if it has not exited within ``grace`` seconds."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()

    def _read_log(self) -> str:
        if not self.log.exists():
            return "(no log)"
        lines = self.log.read_text(errors="replace").splitlines()
        # Its start-up banner says nothing of what went wrong: the errors do, when there are.
        errors = [line for line in lines if any(m in line for m in ("[FTL]", "[ERR]", "[WRN]"))]
        return "\n".join(errors or lines[-5:])

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        if self._own_dir:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.workdir)
