"""Things that start and stop: ``async with`` starts one and stops it at the end, whatever
happened inside."""

from __future__ import annotations

from typing import Self


class StartStop:
    """A base for what has an async ``start()`` and ``stop()``; it makes them a context
    manager. Subclasses implement both."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
