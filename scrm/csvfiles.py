"""CSV files operators upload."""


def csv_text(data: bytes) -> str | None:
    """The text of an uploaded CSV: UTF-8 (with or without BOM), else GB18030, what Excel
    saves on a Chinese system; None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
