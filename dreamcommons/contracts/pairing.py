"""Pairing codes: what a device shows its owner, and how a typed code is checked.

A code is ten characters of an alphabet without look-alikes (no 0, O, 1, I, L or U), shown in
groups for reading aloud (``K7QM-XHD2-PQ``) and accepted typed in any case, with or without
dashes and spaces. It never travels to the broker: a device's birth carries only its first two
characters (the hint the server files offers under) and a verifier, a salted scrypt of the
code, which the server checks a typed code against. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from typing import Annotated, Final

from pydantic import BeforeValidator, StringConstraints

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH: Final = 10
HINT_LENGTH: Final = 2
CODE_PATTERN: Final = r"^[2-9A-HJKMNP-TV-Z]{10}$"
HINT_PATTERN: Final = r"^[2-9A-HJKMNP-TV-Z]{2}$"
SALT_BYTES: Final = 16
# scrypt's cost: 8 MiB and about 20 ms per check on one core; the salt is per device.
SCRYPT_N: Final = 2**13
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_TYPED_MAX: Final = 40  # what a person may type around the ten characters


def normalize_code(typed: object) -> object:
    """A typed code as the protocol reads it: upper case, without dashes or spaces. Anything
    else (not a string, far too long) is left for the pattern to refuse."""
    if not isinstance(typed, str) or len(typed) > _TYPED_MAX:
        return typed
    return "".join(ch for ch in typed if ch not in "- \t").upper()


PairingCode = Annotated[
    str, BeforeValidator(normalize_code), StringConstraints(pattern=CODE_PATTERN)
]


def new_code(draw: random.Random | None = None) -> str:
    """A fresh code from the operating system's randomness (or ``draw``, seeded, for tests)."""
    choose = (draw or secrets.SystemRandom()).choice
    return "".join(choose(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``K7QMXHD2PQ`` as it is shown: ``K7QM-XHD2-PQ``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_hint(code: str) -> str:
    return code[:HINT_LENGTH]


def code_verifier(code: str, salt_hex: str) -> str:
    """The verifier of ``code`` under the device's salt: scrypt, hex. Deliberately slow."""
    digest = hashlib.scrypt(
        code.encode("ascii"),
        salt=bytes.fromhex(salt_hex),
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=32,
    )
    return digest.hex()


def status_digest(key_hex: str) -> str:
    """What a birth publishes of its connection's status key (SHA-256, hex)."""
    return hashlib.sha256(bytes.fromhex(key_hex)).hexdigest()


__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "CODE_PATTERN",
    "PairingCode",
    "code_hint",
    "code_verifier",
    "format_code",
    "new_code",
    "normalize_code",
    "status_digest",
]
