"""A minimal PDF 1.4 writer for text documents (statements): A4 pages, one line per row; Helvetica for
text, Courier (monospaced, so columns align) for lines of size 9 or less.

Pure code, no dependency: builds the catalog, page tree, one font, a content stream per page and the
cross-reference table (PDF 32000-1:2008, section 7.5).
"""

from __future__ import annotations

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN, LEADING = 40, 13
LINES_PER_PAGE = (PAGE_H - 2 * MARGIN) // LEADING


def _escape(text: str) -> str:
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_document(lines: list[tuple[str, int]]) -> bytes:
    """A PDF of ``(text, font size)`` lines, paginated."""
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, max(len(lines), 1), LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1 catalog, 2 pages, 3-4 fonts, then per page: page object, content stream
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    for i, page in enumerate(pages):
        ops = ["BT", f"{MARGIN} {PAGE_H - MARGIN} Td", f"{LEADING} TL"]
        for text, size in page:
            font = "F2" if size <= 9 else "F1"
            ops.append(f"/{font} {size} Tf ({_escape(text)}) Tj T*")
        ops.append(f"/F1 8 Tf (Page {i + 1} of {n_pages}) Tj")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {6 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
