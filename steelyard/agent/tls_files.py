"""The files a config names besides itself (certificates, keys, CAs, CRLs, crt-lists), in the
appliance's TLS directory, kept in step with the config in force.

`installed(directory, files)` is entered before `haproxy -c`: it writes every file that is
missing or different (0600, atomically), and when the apply then fails it puts back what was
there before, so the previous config still finds its own files. When the apply succeeds, files
the new config does not name are removed. The renderer names files by content version, so a
rotation adds new files and never rewrites the ones a running config uses.
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from steelyard.agent.contract import TLS_FILE_PATTERN
from steelyard.agent.layout import write_text

_NAME = re.compile(TLS_FILE_PATTERN)


@contextmanager
def installed(directory: Path, files: Mapping[str, str]) -> Iterator[None]:
    for name in files:
        if not _NAME.fullmatch(name):  # the contract checks too; a path must never get here
            raise ValueError(f"invalid file name {name!r}")
    directory.mkdir(mode=0o700, exist_ok=True)
    previous: dict[str, str | None] = {}  # name -> content before, None: did not exist
    try:
        for name, text in sorted(files.items()):
            path = directory / name
            before = path.read_text(encoding="utf-8") if path.exists() else None
            if before != text:
                previous[name] = before
                write_text(path, text)
        yield
    except BaseException:
        for name, before in previous.items():
            if before is None:
                (directory / name).unlink(missing_ok=True)
            else:
                write_text(directory / name, before)
        raise
    for stale in directory.iterdir():
        if stale.name not in files:
            stale.unlink(missing_ok=True)
