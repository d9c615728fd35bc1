import codecs
import io
import zipfile

import pytest

from scrm.csvfiles import csv_text

ROWS = "手机号,标签\n13900000001,VIP\n"


@pytest.mark.parametrize(
    "data",
    [
        ROWS.encode(),
        codecs.BOM_UTF8 + ROWS.encode(),
        ROWS.encode("gb18030"),
        ROWS.encode("utf-16"),  # with its BOM, as Excel's "Unicode text"
        codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"),
    ],
)
def test_the_encodings_excel_saves_are_read(data):
    assert csv_text(data) == ROWS


def xlsx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [xlsx_bytes(), b"13900000001,VIP\x00\n", b"\xff\xfe\x00\x00garbage\x81"],
)
def test_binary_or_nul_holding_files_are_not_text(data):
    assert csv_text(data) is None
