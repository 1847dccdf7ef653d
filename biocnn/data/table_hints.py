"""What to tell a user whose table could not be read: its real separator, its real encoding.

Readers call these when they refuse a table, so that the message names the actual problem
(a semicolon-separated export, a Windows-1252 file) rather than a missing column or "not a
text file".
"""

import os

#: Separators a table may have been written with, by how we name them.
_SEPARATORS = {";": "semicolons (';')", "|": "vertical bars ('|')", "\t": "tabs", ",": "commas"}


def separator_hint(columns, expected=(",", "\t")):
    """A sentence naming the separator a table seems to use when its header read as one column
    holding another separator; "" otherwise.

    Args:
        columns: the column names as read.
        expected: the separators the reader splits on.

    Example:
        >>> separator_hint(["id;label;group"])
        " The header is one column, 'id;label;group': the table seems separated by semicolons (';'). Save it comma- or tab-separated (e.g. in a spreadsheet: CSV, comma-delimited)."
    """
    names = [str(c) for c in columns if str(c) != "source"]
    if len(names) != 1:
        return ""
    for separator, name in _SEPARATORS.items():
        if separator not in expected and separator in names[0]:
            return (f" The header is one column, {names[0]!r}: the table seems separated by {name}. Save it "
                    "comma- or tab-separated (e.g. in a spreadsheet: CSV, comma-delimited).")
    return ""


def encoding_hint(data, position):
    """A sentence naming the encoding of bytes that are not UTF-8, "" when none fits.

    Args:
        data: bytes of the file around the first bad byte (or all of it).
        position: index in ``data`` of the first byte that is not UTF-8.

    Example:
        >>> data = "id,label\\ncell_1,Zelltyp ä\\n".encode("cp1252")
        >>> encoding_hint(data, data.index(b"\\xe4"))
        " It looks like Windows-1252 (cp1252) text ('...1,Zelltyp ä'): save it as UTF-8 (e.g. iconv -f cp1252 -t utf-8 in.csv > out.csv)."
    """
    try:
        text = bytes(data).decode("cp1252")
    except UnicodeDecodeError:
        return ""
    start = max(0, position - 10)
    snippet = bytes(data[start:position + 1]).decode("cp1252").splitlines()[-1:] or [""]
    return (f" It looks like Windows-1252 (cp1252) text ('...{snippet[0]}'): save it as UTF-8 (e.g. iconv -f cp1252 "
            f"-t utf-8 in{os.extsep}csv > out{os.extsep}csv)." if text else "")


def table_problem(error):
    """A sentence for a table pandas could not read: its encoding when that was the problem.

    Example:
        >>> table_problem(ValueError("x"))
        ''
    """
    if isinstance(error, UnicodeDecodeError):
        return encoding_hint(error.object, error.start)
    return ""
