"""``dreamcommons command``: a host's tool to send one command to one device and see its ack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from dreamcommons.server.devices.ingest import CommandFailed, DeviceGateway
from dreamcommons.server.devices.registry import DeviceRegistry


async def send_command(
    broker: str, device: str, action: str, value: float | None, wait_s: float
) -> int:
    gateway = DeviceGateway(
        broker,
        DeviceRegistry(),
        on_batch=lambda *_: None,
        on_status=lambda _: None,
        client_id=f"dreamcommons-command-{os.getpid()}",
    )
    listening = asyncio.create_task(gateway.run(), name="command-gateway")
    try:
        async with asyncio.timeout(wait_s):
            await gateway.connected.wait()
        reference = time.time() if action == "pace" else None
        ack = await gateway.command(device, action, value, reference_time=reference, wait_s=wait_s)
    except (TimeoutError, CommandFailed) as error:
        print(f"{device}: {action} failed: {error or 'broker not reachable'}")
        return 1
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    print(f"{device}: {action} {'ok' if ack.ok else 'refused: ' + str(ack.error)}")
    return 0 if ack.ok else 1
