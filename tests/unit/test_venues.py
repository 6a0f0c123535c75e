"""Venue presets load, validate, and fail with errors that name the file and the field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dreamcommons.contracts.errors import VenueError
from dreamcommons.contracts.venues import SEEDS_DIR, available_venues, load_venue, parse_venue


@pytest.mark.parametrize("name", available_venues())
def test_every_shipped_preset_is_valid(name: str) -> None:
    venue = load_venue(name)
    assert venue.name == name
    assert len(venue.motifs) >= 24  # the standard workload draws from 24 motif names


def test_the_two_first_venues_are_there() -> None:
    assert {"sleep-commons", "harmony-festival"} <= set(available_venues())


def test_a_bad_field_is_named(tmp_path: Path) -> None:
    data = tomllib.loads((SEEDS_DIR / "sleep-commons.toml").read_text())
    data["equity_cap"] = 1.5
    data["motifs"][2]["colour"] = "blue"
    with pytest.raises(VenueError) as error:
        parse_venue(data, source="broken.toml")
    message = str(error.value)
    assert "broken.toml" in message
    assert "equity_cap" in message
    assert "motifs.2.colour" in message


def test_unknown_fields_and_repeated_motifs_are_refused() -> None:
    data = tomllib.loads((SEEDS_DIR / "sleep-commons.toml").read_text())
    data["tick_rate"] = 5
    data["motifs"].append(dict(data["motifs"][0]))
    with pytest.raises(VenueError, match="tick_rate"):
        parse_venue(data, source="x.toml")
    del data["tick_rate"]
    with pytest.raises(VenueError, match="repeated: forest"):
        parse_venue(data, source="x.toml")


def test_a_path_and_broken_toml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ")
    with pytest.raises(VenueError, match="not valid TOML"):
        load_venue(str(broken))
    with pytest.raises(VenueError, match="known venues"):
        load_venue("atlantis")
