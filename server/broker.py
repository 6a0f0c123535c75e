"""A Mosquitto broker as a child process on a free loopback port: the demo's zero-setup broker
and the tests' real one. Production points ``--broker`` at a Mosquitto of its own."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import re
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from dreamcommons.contracts.broker_access import parse_broker_url
from dreamcommons.contracts.errors import DreamcommonsError
from dreamcommons.contracts.lifecycle import StartStop

_USER_LINE = re.compile(r"^user\s", re.M)
_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


class BrokerUnavailable(DreamcommonsError):
    """No Mosquitto binary, or it would not start."""


def find_mosquitto() -> str:
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise BrokerUnavailable(
        "Mosquitto is not installed: run `make setup` as root, or `apt-get install mosquitto`"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_PORT_TAKEN = "address already in use"  # what mosquitto and nats-server say of a taken port
_ATTEMPTS = 3


async def start_on_free_ports(
    start: Callable[[], Awaitable[None]], choose_again: Callable[[], None] | None
) -> None:
    """``start()``; when it fails because a port ``free_port`` chose was taken between choosing
    and binding it (by any process's outgoing connection, too), ``choose_again()`` and start
    again, three times in all. ``choose_again`` None: the ports are given, or a restart's."""
    for attempt in range(_ATTEMPTS):
        try:
            await start()
        except DreamcommonsError as error:
            taken = _PORT_TAKEN in str(error).lower()
            if choose_again is None or not taken or attempt == _ATTEMPTS - 1:
                raise
            choose_again()
        else:
            return


async def port_open(host: str, port: int, within: float = 3.0) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (asked for ``within`` s)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), within)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class MosquittoProcess(StartStop):
    """``async with MosquittoProcess() as broker:`` then ``broker.url``. ``stop()`` and
    ``start()`` again keep the same port, for tests of broker restarts; a port it chose itself
    and found taken at its first start is chosen anew (``port`` then says which)."""

    def __init__(
        self, port: int | None = None, *, extra_config: str = "", workdir: Path | None = None
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._may_choose_again = port is None  # until a first start succeeds
        self.binary = find_mosquitto()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="dreamcommons-mosquitto-"))
        self.config = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        self.extra_config = extra_config
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self, ready_within: float = 10.0) -> None:
        choose_again = self._choose_port if self._may_choose_again else None
        await start_on_free_ports(lambda: self._start_once(ready_within), choose_again)
        self._may_choose_again = False  # a restart keeps the port its clients know

    def _choose_port(self) -> None:
        self.port = free_port()
        self.log.unlink(missing_ok=True)  # the next attempt's errors are its own

    async def _start_once(self, ready_within: float) -> None:
        self.config.write_text(
            f"listener {self.port} {self.host}\n"
            + ("" if "allow_anonymous" in self.extra_config else "allow_anonymous true\n")
            + "persistence false\n"
            # Started as root, mosquitto would drop to its own user, which may not write its
            # log (nor read its files) here: it stays who started it, unless told otherwise.
            + ("" if _USER_LINE.search(self.extra_config) else f"user {getpass.getuser()}\n")
            + f"log_dest file {self.log}\n"
            + "log_type error\nlog_type warning\nlog_type information\n"
            + "max_queued_messages 10000\n"
            + self.extra_config
        )
        logged_before = self.log.stat().st_size if self.log.exists() else 0
        # what it says before its log is open (a bad config) goes to mosquitto.stderr
        with (self.workdir / "mosquitto.stderr").open("wb") as errors:
            self._process = await asyncio.create_subprocess_exec(
                self.binary,
                "-c",
                str(self.config),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=errors,
                # A session of its own: a Ctrl-C at the terminal reaches the program that
                # started the broker, not the broker, which that program stops last.
                start_new_session=True,
            )
        # Ready when this broker says so in its own log (mosquitto logs "running" once every
        # listener is bound): a port that answers may be another broker's, when a free port
        # was taken between choosing it and binding it, and then this one has exited.
        async with asyncio.timeout(ready_within):
            while not self._says_running(logged_before):
                if self._process.returncode is not None:
                    raise BrokerUnavailable(f"mosquitto exited: {self._read_log()}")
                await asyncio.sleep(0.05)

    def _says_running(self, offset: int) -> bool:
        if not self.log.exists():
            return False
        with self.log.open("rb") as log:
            log.seek(offset)
            return b" running" in log.read()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()

    def _read_log(self) -> str:
        said = [path.read_text().strip() for path in (self.log, self.workdir / "mosquitto.stderr")
                if path.exists()]  # fmt: skip
        return "\n".join(line for line in said if line) or "(no log)"

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.asynccontextmanager
async def reachable_broker(url: str) -> AsyncIterator[tuple[str, MosquittoProcess | None]]:
    """The broker at ``url`` when one listens there, else a Mosquitto child process on a free
    loopback port for as long as the block runs: ``(url to use, the child or None)``."""
    host, port = parse_broker_url(url)
    if await port_open(host, port):
        yield url, None
        return
    async with MosquittoProcess() as child:
        yield child.url, child
