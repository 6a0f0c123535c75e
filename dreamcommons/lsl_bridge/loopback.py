"""Lab Streaming Layer kept on this machine, through liblsl's own configuration.

liblsl looks for streams by multicast and broadcast unless told otherwise, and reads its
configuration once per process, the first time it is used (from the file ``LSLAPICFG`` names,
before ``lsl_api.cfg`` in the working directory, ``~/lsl_api/`` and ``/etc/lsl_api/``). The
package ships ``lsl_api.cfg``: ``ResolveScope = machine`` with 127.0.0.1 as the only address to
ask, ``KnownPeers = {127.0.0.1}``, IPv6 disabled, responders on the loopback interface.
``confine_to_this_machine`` points ``LSLAPICFG`` at it before pylsl is imported.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from typing import Final

LOOPBACK_CONFIG: Final = Path(__file__).with_name("lsl_api.cfg")
ENVIRONMENT: Final = "LSLAPICFG"


class ConfinementFailed(RuntimeError):
    """liblsl may already run with a configuration that is not the one asked for."""


def confine_to_this_machine(config: Path = LOOPBACK_CONFIG) -> Path:
    """Make ``config`` liblsl's configuration for this process and its children (unless
    ``LSLAPICFG`` names one already); the file in force. Refuses once pylsl is imported with
    no ``LSLAPICFG``: liblsl might have read its defaults already."""
    chosen = os.environ.get(ENVIRONMENT)
    if chosen is None:
        if "pylsl" in sys.modules:
            raise ConfinementFailed(f"pylsl was imported before {ENVIRONMENT} was set")
        os.environ[ENVIRONMENT] = chosen = str(config)
    if not Path(chosen).is_file():
        raise ConfinementFailed(f"{ENVIRONMENT} names {chosen}, which is not a readable file")
    return Path(chosen)


def stays_on_this_machine(config: Path) -> bool:
    """Whether ``config`` keeps discovery on loopback: machine scope, only 127.0.0.1 asked,
    no IPv6 (liblsl's INI format is read as configparser reads it)."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(config.read_text())
    except (OSError, configparser.Error):
        return False

    def value(section: str, key: str) -> str:
        return parser.get(section, key, fallback="").strip()

    return (
        value("multicast", "ResolveScope") == "machine"
        and value("multicast", "MachineAddresses") in ("{127.0.0.1}", "")
        and value("multicast", "AddressesOverride") in ("{}", "")
        and value("lab", "KnownPeers") in ("{127.0.0.1}", "{}", "")
        and value("ports", "IPv6") in ("disable", "disabled")
    )
