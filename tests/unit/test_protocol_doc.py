"""docs/protocol.md is the contract: it names every message, field and code the models have,
its JSON examples are messages the server and its clients accept, and its limits table is the
settings' own."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from pydantic import BaseModel

from dreamcommons.contracts.errors import CloseCode, ErrorCode, ProtocolError
from dreamcommons.contracts.protocol import (
    AnyClientMessage,
    AnyServerMessage,
    Delta,
    Encoding,
    NoticeCode,
    decode_client,
    decode_server,
)
from dreamcommons.contracts.schemas import message_schemas
from dreamcommons.server.protocol_limits import BEGIN, END, limits_table, main, with_limits

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOC = DOC_PATH.read_text()
CLIENT: list[type[BaseModel]] = list(get_args(AnyClientMessage))
SERVER: list[type[BaseModel]] = list(get_args(AnyServerMessage))


def section(heading: str, text: str = DOC) -> str:
    """The text under ``heading`` (a whole heading line), up to the next heading of its level
    or higher."""
    match = re.search(rf"^{re.escape(heading)}\n", text, re.MULTILINE)
    assert match is not None, f"docs/protocol.md has no heading {heading!r}"
    level = len(heading) - len(heading.lstrip("#"))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest if end is None else rest[: end.start()]


def type_of(model: type[BaseModel]) -> str:
    return str(model.model_fields["type"].default)


def message_section(model: type[BaseModel]) -> str:
    if model is Delta:
        return section("## A delta and how it is applied")
    part = "## What a client sends" if model in CLIENT else "## What the server sends"
    return section(f"### `{type_of(model)}`", section(part))


@pytest.mark.parametrize("model", CLIENT + SERVER, ids=lambda m: f"{m.__name__}")
def test_every_message_and_each_of_its_fields_is_described(model: type[BaseModel]) -> None:
    described = message_section(model)
    missing = [name for name in model.model_fields if f"`{name}`" not in described]
    assert missing == [], f"the section of {type_of(model)!r} does not name {missing}"


def table_codes(heading: str) -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", section(heading), re.MULTILINE))


def test_every_error_code_has_its_row() -> None:
    assert table_codes("### Error codes") == {code.value for code in ErrorCode}


def test_every_notice_code_has_its_row() -> None:
    assert table_codes("### Notice codes") == {code.value for code in NoticeCode}


def test_every_close_code_has_its_row_with_its_name() -> None:
    rows = set(re.findall(r"^\| `(\d+)` \| `(\w+)` \|", section("### Close codes"), re.M))
    assert rows == {(str(code.value), code.name) for code in CloseCode}


def closed(schema: Any) -> Any:
    """``schema`` with every object refusing properties it does not name: a server model
    ignores unknown fields, but an example in the doc must not invent one."""
    schema = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


SCHEMAS = message_schemas()
VALIDATORS = {
    "client": jsonschema.Draft202012Validator(closed(SCHEMAS["client.json"])),
    "server": jsonschema.Draft202012Validator(closed(SCHEMAS["server.json"])),
}
DECODERS = {"client": decode_client, "server": decode_server}
TYPES = {"client": {type_of(m) for m in CLIENT}, "server": {type_of(m) for m in SERVER}}


def json_examples() -> list[Any]:
    """Every object of every fenced ```json block, in order (a block may hold several)."""
    found: list[Any] = []
    decoder = json.JSONDecoder()
    for block in re.findall(r"^```json\n(.*?)^```$", DOC, re.MULTILINE | re.DOTALL):
        at = 0
        while block[at:].strip():
            at += len(block[at:]) - len(block[at:].lstrip())
            value, at = decoder.raw_decode(block, at)
            found.append(value)
    return found


EXAMPLES = json_examples()


def refusals(example: dict[str, Any], direction: str) -> list[str]:
    """Why ``example`` is not a message of ``direction``: its schema's and its model's."""
    why = [error.message for error in VALIDATORS[direction].iter_errors(example)]
    try:
        DECODERS[direction](json.dumps(example), Encoding.JSON)
    except ProtocolError as error:
        why.append(f"{error.code}: {error.message}")
    return why


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: str(e.get("type", "fragment")))
def test_every_json_example_is_accepted_as_what_it_shows(example: Any) -> None:
    assert isinstance(example, dict)
    if "type" not in example:  # a part of a message: one of the server's models, exactly
        definitions = closed(SCHEMAS["server.json"])["$defs"]
        fits = [
            name
            for name, definition in definitions.items()
            if definition.get("type") == "object"
            and jsonschema.Draft202012Validator({**definition, "$defs": definitions}).is_valid(
                example
            )
        ]
        assert fits, f"{example} is no part of any server message"
        return
    directions = [d for d in ("client", "server") if example["type"] in TYPES[d]]
    assert directions, f"no message has the type {example['type']!r}"
    why = {direction: refusals(example, direction) for direction in directions}
    assert any(not reasons for reasons in why.values()), why


def test_the_examples_show_every_message() -> None:
    shown = {example.get("type") for example in EXAMPLES}
    assert TYPES["client"] | TYPES["server"] <= shown


def test_an_example_with_a_wrong_field_would_be_caught() -> None:
    assert refusals({"type": "ack", "cid": 1, "seq": 3}, "server")
    assert refusals({"type": "contribute", "cid": 1, "motif": "Moon"}, "client")
    assert refusals({"type": "error", "code": "oops", "message": "?"}, "server")


def test_the_limits_table_is_made_from_the_settings() -> None:
    assert limits_table() in DOC
    assert with_limits(DOC) == DOC, (
        "docs/protocol.md's limits have drifted from the settings: run "
        "`python -m dreamcommons.server.protocol_limits docs/protocol.md` and commit the result"
    )
    with pytest.raises(ValueError, match="no limits block"):
        with_limits("# a page without the markers\n")


def test_the_generator_rewrites_only_the_block(tmp_path: Path) -> None:
    page = tmp_path / "protocol.md"
    page.write_text(f"# Before\n\n{BEGIN}\n| stale | 1 |\n{END}\n\nAfter.\n")
    main([str(page)])
    assert page.read_text() == f"# Before\n\n{limits_table()}\n\nAfter.\n"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_every_link_within_the_page_leads_to_a_heading() -> None:
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC))
    assert links - anchors(DOC) == set()


@pytest.mark.parametrize(
    ("page", "target"),
    [("docs/protocol.md", None), ("docs/security.md", "protocol.md"), ("README.md", None)],
)
def test_every_link_to_a_heading_of_another_page_leads_to_one(
    page: str, target: str | None
) -> None:
    """What moved into protocol.md is linked from where it was, and its own links to the
    other pages land on their headings."""
    root = DOC_PATH.parents[1]
    here = root / page
    links = re.findall(r"\]\(([\w/.-]+\.md)#([^)]+)\)", here.read_text())
    assert links, f"{page} links to no heading of another page"
    broken = [
        f"{name}#{anchor}"
        for name, anchor in links
        if (target is None or name == target)
        and anchor not in anchors((here.parent / name).read_text())
    ]
    assert broken == []
