"""KYC documents at rest: a private storage no URL reaches, read back only by admins and auditors.

Identity documents are personal data of the highest class (GDPR art. 9-adjacent, FATF Recommendation 10 record
keeping): they are kept outside ``MEDIA_ROOT`` and every static path, so a guessed URL can never serve one. The admin
console and the auditor portal stream a document through :func:`verification_document_open`, which asks the one
permission rule (:func:`accounts.policies.kyc_documents_readable`) first.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import IO

from flexplatform.errors import NotFound

from .. import policies
from ..models import VerificationDocument

# Served inline only when the browser can render them without running anything; everything else downloads.
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg"}


@dataclass(frozen=True)
class OpenDocument:
    file: IO[bytes]
    filename: str
    content_type: str
    inline: bool


def verification_document_open(*, user, document_id: int) -> OpenDocument:
    """The stored file of one KYC document, for a reader the policy allows; a missing row, a row without a file
    and a reader who may not see it all answer "not found" (a caller learns nothing about other cases)."""
    if not policies.kyc_documents_readable(user):
        raise NotFound("No such document.")
    doc = VerificationDocument.objects.filter(pk=document_id).exclude(file="").first()
    if doc is None or not doc.file.storage.exists(doc.file.name):
        raise NotFound("No such document.")
    name = doc.file.name.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return OpenDocument(
        file=doc.file.open("rb"), filename=name, content_type=content_type, inline=content_type in INLINE_TYPES
    )
