"""Printing text that comes from a file to a terminal, escaped.

Titles, ids, metadata values and paths come from files made by others: printed
raw, an escape sequence among them (``\\x1b]0;...``, ``\\x1b[2J``, a C1
control such as ``\\x9b``) would be executed by the terminal — retitle it,
clear it, fake other output.  :func:`escape_text` and :func:`escape_json` turn
every non-printable character into a visible escape, as ``strfh5 validate``
already does (``repr`` of the values it names).
"""

from __future__ import annotations

__all__ = ["escape_text", "escape_json"]


def escape_text(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every non-printable character (controls, format characters) as a Python escape.

    Parameters
    ----------
    text : str
        Text to print; printable characters (any script) are kept as they are.
    keep_newlines : bool
        Keep ``\\n`` (line breaks the caller put there); False escapes them too.

    Examples
    --------
    >>> escape_text("a\\x1b[2Jb")
    'a\\\\x1b[2Jb'
    """
    return "".join(c if (c.isprintable() or (c == "\n" and keep_newlines)) else ascii(c)[1:-1] for c in text)


def escape_json(text: str) -> str:
    """JSON text with every non-printable character inside it written as a ``\\uXXXX`` escape.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 controls but keeps
    DEL and C1 controls (``\\x9b`` starts a sequence on some terminals); the
    result stays valid JSON that decodes to the same values.
    """
    return "".join(c if (c.isprintable() or c == "\n") else "".join(
        f"\\u{u:04x}" for u in _utf16_units(c)) for c in text)


def _utf16_units(c: str) -> list[int]:
    b = c.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]
