"""Assessment's error codes: the ``code`` of every :class:`flexplatform.errors.ApplicationError` assessment
raises (the API's ``{"code": ...}``). Code that branches on a refusal compares with these members, never with a
string literal. A ``StrEnum``: each member is its string, so the API body is unchanged."""

from __future__ import annotations

from enum import StrEnum


class AssessmentError(StrEnum):
    INSUFFICIENT_HISTORY = "insufficient_history"  # too little clean meter history for a baseline
    NO_METER = "no_meter"
    BULK_INCONSISTENT = "bulk_inconsistent"  # a bulk upload whose rows disagree (assessment.api)
    IMPORT_REJECTED = "import_rejected"  # a file or batch of readings refused whole (assessment.ingest)
