"""CSV files operators upload."""

import codecs


def csv_text(data: bytes) -> str | None:
    """The text of an uploaded CSV: UTF-8 (with or without BOM), UTF-16 with its BOM (Excel's
    "Unicode text"), else GB18030, what Excel saves on a Chinese system. None when it is
    none of these, or holds NUL characters: a binary file (an .xlsx saved under a .csv
    name) that happened to decode, whose cells PostgreSQL could not store anyway."""
    encodings = ["utf-8-sig", "gb18030"]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings.insert(0, "utf-16")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else text
    return None
