"""The README's examples do what it says: its Python snippet joins the session its ``host``
example opens, with the join code that host printed."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.conftest import within
from tests.processes import dreamcommons, end, free_port, read_until

pytestmark = pytest.mark.integration

README = Path(__file__).parents[2] / "README.md"


def readme_examples() -> tuple[list[str], str]:
    """The arguments of the README's first ``host`` example, and its Python snippet."""
    text = README.read_text()
    host = re.search(r"^\.venv/bin/dreamcommons host (.*)$", text, re.MULTILINE)
    snippet = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert host is not None
    assert snippet is not None
    return shlex.split(host[1]), snippet[1]


async def test_the_python_snippet_joins_the_session_of_the_host_example(tmp_path: Path) -> None:
    host_args, snippet = readme_examples()
    port = free_port()
    args = [*host_args, "--state-dir", str(tmp_path)]
    args[args.index("--port") + 1] = str(port)
    async with dreamcommons("host", *args) as host:
        banner = await read_until(host, "browser:", within(15))
        code = re.search(r"--code (\S+)", banner)
        assert code is not None, banner
        assert "K7QMXHD2" in snippet
        program = snippet.replace(":8765/", f":{port}/").replace("K7QMXHD2", code[1])
        lyra = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            program,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await read_until(lyra, "['moon']", within(15))
        finally:
            await end(lyra)
