"""Files an interrupted write leaves beside its output, and removing them.

Every writer of strfh5 builds its output under a temporary name in the
output's folder and renames it into place only when it is complete, so a
process killed mid-write (``kill -9``, power loss) never leaves a file at the
output path — but it leaves the temporary files.  Their names follow one
scheme, the output's name followed by one or more of these suffixes:

=========================  =====================================================
``.tmp-<12 hex>``          :class:`~strfh5.StreamWriter`, ``concat``: the file being written
``.scratch-resp-<12 hex>``  ``.scratch-counts-<12 hex>``: rows spooled before their copy
``.part-<12 hex>``         ``materialize``: the copy before it is renamed
``.unvalidated``           a converter's output before it passed validation
=========================  =====================================================

(``out.strf.h5.unvalidated.tmp-0123456789ab`` is a leftover of
``out.strf.h5``.)  :func:`clean_leftovers` removes them: the next write to the
same output calls it for that output, and ``strfh5 clean FOLDER`` (or
``strfh5.clean_leftovers(folder)``) for a whole folder.  A file that a live
process still writes is kept: HDF5 holds a lock on a file open for writing,
and a leftover whose lock cannot be taken is skipped.
"""

from __future__ import annotations

import os
import re
import stat

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks to test
    fcntl = None

__all__ = ["LEFTOVER_SUFFIX", "leftover_target", "find_leftovers", "clean_leftovers"]

#: one suffix of the scheme (a leftover name ends with one or more of them)
LEFTOVER_SUFFIX = r"\.(?:tmp|scratch-resp|scratch-counts|part)-[0-9a-f]{12}|\.unvalidated"

_LEFTOVER = re.compile(rf"^(?P<target>.+?)(?:{LEFTOVER_SUFFIX})+$")


def leftover_target(name: str) -> str | None:
    """The output name a leftover file name belongs to, or None if ``name`` is not a leftover.

    >>> leftover_target("aa1.strf.h5.unvalidated.tmp-0123456789ab")
    'aa1.strf.h5'
    >>> leftover_target("aa1.strf.h5") is None
    True
    """
    m = _LEFTOVER.match(os.path.basename(name))
    return m.group("target") if m else None


def _in_use(path: str) -> bool:
    """Whether another open handle holds a lock on ``path`` (a live writer or reader)."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's own lock
    return False


def find_leftovers(folder, target: str | None = None) -> list[str]:
    """Leftover files in ``folder`` (only those of output name ``target`` when given), sorted.

    Only regular files are listed (a symlink or folder with such a name is
    not one of strfh5's), and only directly in ``folder``.
    """
    folder = os.fspath(folder)
    if target is not None:
        target = leftover_target(target) or os.path.basename(target)
    out = []
    with os.scandir(folder) as it:
        for entry in it:
            t = leftover_target(entry.name)
            if t is None or (target is not None and t != target):
                continue
            if entry.is_file(follow_symlinks=False):
                out.append(os.path.join(folder, entry.name))
    return sorted(out)


def clean_leftovers(folder, target: str | None = None, *, dry_run: bool = False) -> list[str]:
    """Remove what interrupted strfh5 writes left in ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder to clean (not recursive).
    target : str, optional
        Only the leftovers of this output file name (its base name, or a
        leftover of it); all leftovers when None.
    dry_run : bool
        List what would be removed without removing it.

    Returns
    -------
    list of str
        The paths removed (or that would be). Files that a live process holds
        open for writing are kept and not listed.

    Raises
    ------
    NotADirectoryError, FileNotFoundError
        ``folder`` is not an existing folder.

    Examples
    --------
    >>> strfh5.clean_leftovers("results/")            # doctest: +SKIP
    ['results/aa1.strf.h5.tmp-3f2a9c1d0b7e']
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder}: not a folder")
    removed = []
    for path in find_leftovers(folder, target):
        if _in_use(path):
            continue
        if not dry_run:
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                os.remove(path)
            except FileNotFoundError:
                continue
        removed.append(path)
    return removed
