"""ROS 1 message definitions of Int-Ball2 (``ib2_msgs``) as a ``rosbags`` typestore.

The ``.msg`` texts are data in ``resources/ib2/msg/`` (written from JAXA's
public definitions); the standard types (std_msgs, geometry_msgs) are
rosbags' ROS 1 Noetic store, which Melodic's wire format equals. Built once,
then read-only: any thread may deserialise with it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, cast

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from telemetry.core.dictionary import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

    from rosbags.interfaces.typing import Basename, Constdefs, Typesdict
    from rosbags.typesys.store import Typestore

MSG_DIR: Final = REPO_ROOT / "resources" / "ib2" / "msg"

# genmsg (ROS 1) takes every "TYPE NAME = VALUE" line for a constant.
# rosbags applies ROS 2's rule (constant names are UPPER_CASE) and takes
# "uint8 FullHD = 1" for a *field* with a default: MainCameraStatus would
# then be 2 bytes too long and its md5 wrong (int-ball2-downlink.md 7).
# So constants are taken out before rosbags parses and put back after.
_CONSTANT: Final = re.compile(
    r"^\s*(?P<type>[a-z]+[0-9]*)\s+(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*=\s*(?P<value>[^#\n]*?)\s*(#.*)?$"
)
_INTEGER_TYPES: Final = frozenset(
    {"byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32"}
    | {"int64", "uint64"}
)


def types_from_msg(text: str, name: str) -> Typesdict:
    """Parse one ROS 1 ``.msg`` text the way genmsg does (constants kept as constants).

    ``name`` is ``package/Type`` or ``package/msg/Type``.
    """
    constants: Constdefs = []
    kept: list[str] = []
    for line in text.splitlines():
        match = _CONSTANT.match(line)
        if match is None:
            kept.append(line)
            continue
        typ, value = cast("Basename", match["type"]), match["value"]
        if typ == "string":
            constants.append((match["name"], typ, value))
        elif typ == "bool":
            constants.append((match["name"], typ, value.lower() in ("1", "true")))
        elif typ in _INTEGER_TYPES:
            constants.append((match["name"], typ, int(value, 0)))
        else:
            constants.append((match["name"], typ, float(value)))
    typesdict = get_types_from_msg("\n".join(kept) + "\n", name)
    for typename, (consts, fields) in typesdict.items():
        typesdict[typename] = ([*constants, *consts], fields)
    return typesdict


def ib2_typestore(*, ros2: bool = False, msg_dir: Path = MSG_DIR) -> Typestore:
    """Return a new store: rosbags' standard types and every ``.msg`` in ``msg_dir``.

    ROS 1 Noetic's standard types (Melodic's wire format), or with ``ros2``
    ROS 2 Humble's (``std_msgs/Header`` without ``seq``: a ROS 2 bag of
    these topics is CDR of the same definitions). The directory holds
    ``<package>/<Type>.msg``. A new store each call: a bag import adds the
    bag's own types to it.
    """
    store = get_typestore(Stores.ROS2_HUMBLE if ros2 else Stores.ROS1_NOETIC)
    types: Typesdict = {}
    for path in sorted(msg_dir.glob("*/*.msg")):
        name = f"{path.parent.name}/msg/{path.stem}"
        types.update(types_from_msg(path.read_text("utf-8"), name))
    store.register(types)
    return store


_SECTION: Final = re.compile(r"^=+\s*\nMSG: (\S+)\s*\n", re.MULTILINE)


def register_msgdef(store: Typestore, text: str, typename: str) -> None:
    """Add a bag connection's definition (main type, ``MSG:`` sections) to ``store``.

    Types the store already has are kept as they are (the ``resources/ib2``
    definitions win over a bag's copy). Raises rosbags' ``TypesysError`` or
    ``ValueError`` for a definition that cannot be parsed.
    """
    pieces = _SECTION.split(text)
    sections = [(typename, pieces[0])]
    sections += [(msg_type(pieces[i]), pieces[i + 1]) for i in range(1, len(pieces), 2)]
    types: Typesdict = {}
    for name, body in sections:
        if name not in store.fielddefs:
            types.update(types_from_msg(body, msg_type(name)))
    store.register(types)


def msg_type(name: str) -> str:
    """Return rosbags' name (``pkg/msg/Type``) of a ROS 1 type name (``pkg/Type``)."""
    package, _, typ = name.rpartition("/")
    return name if package.endswith("/msg") else f"{package}/msg/{typ}"
