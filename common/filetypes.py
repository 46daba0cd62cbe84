"""What kind of file an upload is, judged by its content (magic bytes), never by its name.

Zip-based Office files are told apart by their `[Content_Types].xml`, legacy Office (OLE2
compound files) by the stream their directory names (WordDocument, Workbook), text and CSV by
decoding as UTF-8 with no NUL byte. Kinds a document may never be (a pickle, an executable, an
archive, markup) are named too, so a refusal can say what the file really is.
"""

from __future__ import annotations

import codecs
import csv
import struct
import zipfile
from pathlib import Path

#: Kinds an allow-list may name, with the label a person reads and the media type served.
DOCUMENT_KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("PDF", "application/pdf"),
    "png": ("PNG image", "image/png"),
    "jpeg": ("JPEG image", "image/jpeg"),
    "gif": ("GIF image", "image/gif"),
    "webp": ("WebP image", "image/webp"),
    "csv": ("CSV", "text/csv"),
    "text": ("plain text", "text/plain"),
    "docx": ("Word document (docx)", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.document"),
    "xlsx": ("Excel workbook (xlsx)", "application/vnd.openxmlformats-officedocument."
             "spreadsheetml.sheet"),
    "pptx": ("PowerPoint presentation (pptx)", "application/vnd.openxmlformats-officedocument."
             "presentationml.presentation"),
    "doc": ("Word 97–2003 document (doc)", "application/msword"),
    "xls": ("Excel 97–2003 workbook (xls)", "application/vnd.ms-excel"),
}

#: What other content is called when it is refused.
OTHER_KINDS: dict[str, str] = {
    "pickle": "Python pickle",
    "elf": "Linux executable (ELF)",
    "pe": "Windows executable (PE)",
    "macho": "macOS executable (Mach-O)",
    "script": "script (starts with #!)",
    "skops": "skops model file",
    "office_macro": "macro-enabled Office file",
    "zip": "zip archive",
    "gzip": "gzip archive",
    "archive": "compressed archive",
    "ole": "other Office 97–2003 file",
    "markup": "HTML, SVG or XML markup",
    "text_other": "text that is not UTF-8",
    "binary": "unrecognised binary data",
    "empty": "empty file",
}

_OOXML = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20


def label(kind: str) -> str:
    if kind in DOCUMENT_KINDS:
        return DOCUMENT_KINDS[kind][0]
    return OTHER_KINDS.get(kind, kind)


def media_type(kind: str) -> str:
    return DOCUMENT_KINDS.get(kind, ("", "application/octet-stream"))[1]


def detect(path: Path) -> str:
    """The kind of the file at `path` (a key of DOCUMENT_KINDS or OTHER_KINDS)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head:
        return "empty"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(_OLE_MAGIC):
        return _ole_kind(path, head)
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head.startswith(b"MZ"):
        return "pe"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "macho"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"BZh", b"\xfd7zXZ\x00",
                        b"\x28\xb5\x2f\xfd")):
        return "archive"
    return _text_kind(path, head)


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "[Content_Types].xml" in names:
                types = zf.read("[Content_Types].xml").decode("utf-8", "replace")
                for content_type, kind in _OOXML.items():
                    if f'ContentType="{content_type}"' in types:
                        return kind
                if "macroEnabled" in types or "vbaProject" in types:
                    return "office_macro"
            if "schema.json" in names:
                return "skops"
    except (zipfile.BadZipFile, OSError, KeyError):
        return "binary"
    return "zip"


def _ole_kind(path: Path, head: bytes) -> str:
    """A legacy Office file by the streams its directory names: WordDocument (doc), Workbook or
    Book (xls). The first directory sector is read; a file whose names are further on is
    scanned for them. Macros (a VBA storage) make it refused."""
    names: set[str] = set()
    try:
        shift = struct.unpack_from("<H", head, 0x1E)[0]
        first_dir = struct.unpack_from("<I", head, 0x30)[0]
        size = 1 << shift
        with open(path, "rb") as fh:
            fh.seek((first_dir + 1) * size)
            sector = fh.read(size)
        for off in range(0, len(sector) - 127, 128):
            length = struct.unpack_from("<H", sector, off + 0x40)[0]
            if 2 <= length <= 64:
                names.add(sector[off:off + length - 2].decode("utf-16-le", "replace"))
    except (struct.error, OSError, ValueError):
        pass
    wanted = {"WordDocument": "doc", "Workbook": "xls", "Book": "xls"}
    if not names & set(wanted):
        names |= _scan_utf16(path, [*wanted, "_VBA_PROJECT", "VBA"])
    if names & {"_VBA_PROJECT", "VBA", "Macros", "_VBA_PROJECT_CUR"}:
        return "office_macro"
    for name, kind in wanted.items():
        if name in names:
            return kind
    return "ole"


def _scan_utf16(path: Path, names: list[str]) -> set[str]:
    needles = {n: n.encode("utf-16-le") for n in names}
    found: set[str] = set()
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            window = tail + block
            found |= {n for n, b in needles.items() if b in window}
            tail = window[-128:]
    return found


def _text_kind(path: Path, head: bytes) -> str:
    """UTF-8 (a BOM allowed) with no NUL anywhere: CSV when the first lines split alike into two
    or more columns, plain text otherwise. Markup and scripts are named, not accepted as text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    sample = ""
    try:
        with open(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                if b"\x00" in block:
                    return "binary"
                text = decoder.decode(block)
                if len(sample) < 65536:
                    sample += text[: 65536 - len(sample)]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "text_other" if b"\x00" not in head else "binary"
    stripped = sample.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith("#!"):
        return "script"
    if stripped.startswith(("<!doctype", "<html", "<svg", "<?xml", "<script")):
        return "markup"
    return "csv" if _looks_like_csv(sample.lstrip("\ufeff")) else "text"


def _looks_like_csv(sample: str) -> bool:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines, dialect)}
    return len(widths) == 1 and widths.pop() >= 2


class KindNotAllowed(ValueError):
    """The file's content is not one of the allowed kinds; the message names both."""

    def __init__(self, kind: str, allowed: list[str]) -> None:
        self.kind, self.allowed = kind, allowed
        names = ", ".join(label(k) for k in allowed) or "none"
        super().__init__(f"The file is {_article(label(kind))}, judged by its content (not its "
                         f"name), which is not an allowed document type. Allowed: {names}.")


def _article(text: str) -> str:
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text if text != "empty file" \
        else "an empty file"


def check_allowed(path: Path, allowed: list[str]) -> str:
    """The file's kind if `allowed` names it; KindNotAllowed otherwise. Unknown names in
    `allowed` are a configuration error (ValueError)."""
    unknown = sorted(set(allowed) - set(DOCUMENT_KINDS))
    if unknown:
        raise ValueError(f"Unknown document type(s) {', '.join(unknown)}; known: "
                         f"{', '.join(DOCUMENT_KINDS)}.")
    kind = detect(path)
    if kind not in allowed:
        raise KindNotAllowed(kind, list(allowed))
    return kind
