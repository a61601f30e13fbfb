"""Private file storage of the accounts app (no model imports: models.py refers to it at class creation)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class KycDocumentStorage(FileSystemStorage):
    """``KYC_DOCUMENT_ROOT``, read at every use (so a changed setting takes effect), with no URL at all."""

    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return settings.KYC_DOCUMENT_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None  # FileSystemStorage.url() then refuses: "This file is not accessible via a URL."


def kyc_document_storage() -> FileSystemStorage:
    """Where KYC uploads live: outside every public path, with no URL; read back only through
    :func:`accounts.kyc.documents.verification_document_open`."""
    return KycDocumentStorage()
