"""One rule for what a join says and what the WebSocket URL it came through says.

    ws://HOST:PORT/SESSION?code=CODE        or  ?token=INVITATION

- The URL's path names the session when it has one: a join that names another session is
  refused (``invalid_field``). A bare ``/`` names none, and the join's ``session`` decides.
- ``?code=`` and ``?token=`` are the join code and the invitation when the join itself
  carries neither; what the join carries wins.
- A join with an invitation that names no role takes the invitation's role.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

from pydantic import ValidationError

from dreamcommons.contracts.errors import InvalidField
from dreamcommons.contracts.protocol import Join
from dreamcommons.contracts.tokens import peek_role


def join_through(request: Join, path: str) -> Join:
    """``request`` as the URL ``path`` it arrived through completes it, or ``InvalidField``
    when the two disagree on the session."""
    route, _, query = path.split("#", 1)[0].partition("?")
    named = unquote(route).strip("/") or None  # the session of /commons?code=..., None for /
    if named is not None and named != request.session:
        raise InvalidField(
            f"the URL names session {named!r} but the join names {request.session!r}: "
            "join the session of the URL, or connect to /"
        )
    updates: dict[str, object] = {}
    if query and request.code is None and request.token is None:
        parameters = parse_qs(query)
        for field in ("code", "token"):
            values = parameters.get(field)
            if values:
                updates[field] = values[0]
    token = updates.get("token", request.token)
    if isinstance(token, str) and "role" not in request.model_fields_set:
        role = peek_role(token)
        if role is not None:
            updates["role"] = role
    if not updates:
        return request
    try:
        return Join.model_validate(request.model_dump() | updates)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidField(f"join.{where} (from the URL): {first['msg']}") from None
