"""The auditor portal: read-only navigation over every record an auditor may read (``portal.audit``), the KYC
case pages with their documents (streamed through ``accounts.kyc.documents``), and no write control anywhere."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from accounts import policies
from accounts.audit import audit_entries
from accounts.kyc.documents import verification_document_open
from accounts.models import AuditEntry, VerificationCase
from flexplatform.errors import ApplicationError

from ..audit import SECTIONS, audit_section_page


def _require_reader(request) -> None:
    if not policies.reads_everything(request.user):
        raise PermissionDenied("The audit pages are for auditors and platform admins.")


@login_required
def audit_home(request):
    _require_reader(request)
    return render(request, "portal/audit_home.html", {"sections": SECTIONS})


@login_required
def audit_section(request, slug: str):
    _require_reader(request)
    context = audit_section_page(slug, page=request.GET.get("page"), q=request.GET.get("q", ""))
    if context is None:
        raise Http404("No such audit section.")
    return render(request, "portal/audit_section.html", {**context, "sections": SECTIONS})


@login_required
def audit_case(request, pk: int):
    _require_reader(request)
    case = get_object_or_404(
        VerificationCase.objects.select_related("organisation", "subject_user").prefetch_related(
            "documents", "decisions"
        ),
        pk=pk,
    )
    trail = audit_entries(subject_type=AuditEntry.Subject.VERIFICATION_CASE, subject_id=case.pk)
    return render(request, "portal/audit_case.html", {"case": case, "trail": trail, "sections": SECTIONS})


@login_required
def audit_document(request, document_id: int):
    try:
        doc = verification_document_open(user=request.user, document_id=document_id)
    except ApplicationError as exc:
        raise Http404(exc.detail) from exc
    return FileResponse(doc.file, as_attachment=not doc.inline, filename=doc.filename, content_type=doc.content_type)
