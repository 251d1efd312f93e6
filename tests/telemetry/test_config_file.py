"""Configuration files as typed structs: every error one line at file:line."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from telemetry.core.config_file import ConfigError, ConfigFile, parse_key_path

TEXT = """\
# crew
[mission]
name = "Inc 75"

[[crew]]
id = "c1"
age = 40

[[crew]]
id = "c2"
age = -3
"""


class Mission(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class Crew(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    age: Annotated[int, msgspec.Meta(ge=18)]


class Roster(msgspec.Struct, forbid_unknown_fields=True):
    mission: Mission
    crew: list[Crew]


def source(text: str = TEXT) -> ConfigFile:
    def label(key_path: tuple[str | int, ...]) -> str:
        match key_path:
            case ("crew", int(i)):
                return f"crew #{i + 1}"
        return ""

    return ConfigFile(text, "roster.toml", entry_label=label)


def test_key_paths_from_msgspec() -> None:
    assert parse_key_path(".crew[1].age") == ("crew", 1, "age")
    assert parse_key_path("") == ()


def test_a_value_out_of_range_names_file_line_entry_and_bound() -> None:
    with pytest.raises(ConfigError) as err:
        source().decode(Roster)
    assert str(err.value) == "roster.toml:11: [crew #2] age must be >= 18, got -3"


VALID = TEXT.replace("age = -3", "age = 30")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("age = 40", "agee = 40", "roster.toml:7: [crew #1] unknown key 'agee'"),
        ("age = 40\n", "", "roster.toml:5: [crew #1] needs age"),
        ('"Inc 75"', "75", "roster.toml:3: name must be text, got 75"),
        (
            "age = 30\n",
            "age = 30\n[[crews]]\n",
            "roster.toml:12: unknown table 'crews'",
        ),
        (
            "age = 40",
            "age = true",
            "roster.toml:7: [crew #1] age must be a whole number, got True",
        ),
    ],
)
def test_each_kind_of_mistake_is_one_line_at_its_place(
    old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        source(VALID.replace(old, new)).decode(Roster)
    assert str(err.value) == message


def test_syntax_errors_and_missing_files_say_where(
    tmp_path: pytest.TempPathFactory,
) -> None:
    with pytest.raises(ConfigError, match=r"roster\.toml: not valid TOML.*line 2"):
        source("[mission]\nname = \n")
    with pytest.raises(FileNotFoundError, match="no crew roster at"):
        ConfigFile.read("/nonexistent/roster.toml", what="crew roster")
