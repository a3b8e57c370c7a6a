"""Offline intersphinx: write a small ``objects.inv`` per project and point intersphinx at it.

intersphinx normally downloads each project's ``objects.inv``, which fails with no network.
``offline_inventories`` (in conf.py) lists, per project, the base URL of its documentation and
the few names our docstrings and pages refer to. At ``config-inited``, this writes those
tables as version-2 inventories into ``offline_inventories_dir`` (below the source folder) and
adds each one to ``intersphinx_mapping``, so intersphinx reads a local file and the URL is only
the base of the links. It runs before intersphinx checks ``intersphinx_mapping`` (also at
``config-inited``, priority 800) and long before intersphinx loads the inventories
(``builder-inited``).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError

# Before sphinx.ext.intersphinx validates intersphinx_mapping (priority 800).
PRIORITY = 700


def write_inventory(path: Path, project: str, table: str) -> None:
    """Write a Sphinx version-2 ``objects.inv`` from ``table`` (name, role, page per line)."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    rows = (line.split() for line in table.splitlines() if line.strip())
    body = "".join(f"{name} {role} 1 {page} -\n" for name, role, page in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + zlib.compress(body.encode()))


def write_inventories(app: Sphinx, config: Config) -> None:
    """Write every table of ``offline_inventories`` and add it to ``intersphinx_mapping``."""
    folder = Path(app.srcdir, config.offline_inventories_dir)
    mapping = dict(config.intersphinx_mapping)  # a copy: the default {} is shared
    for name, (url, table) in config.offline_inventories.items():
        if name in mapping:
            raise ConfigError(
                f"{name!r} is both in offline_inventories and in intersphinx_mapping; "
                "keep one of them"
            )
        inventory = folder / f"{name}.inv"
        write_inventory(inventory, name, table)
        mapping[name] = (url, str(inventory))
    config.intersphinx_mapping = mapping


def setup(app: Sphinx) -> None:
    """Declare the settings; write the inventories as soon as the configuration is read."""
    app.setup_extension("sphinx.ext.intersphinx")
    app.add_config_value("offline_inventories", {}, "env", types=frozenset({dict}))
    app.add_config_value(
        "offline_inventories_dir", "_build/inventories", "env", types=frozenset({str})
    )
    app.connect("config-inited", write_inventories, priority=PRIORITY)
