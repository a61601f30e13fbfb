"""Meter data API: ingestion (JSON batches, CSV and Green Button uploads), meters, readings, revisions,
status and consumption analysis.

Who may do what: the premise owner (consumer), its enrolled aggregator and admins send readings; grid
operators read the meters of their zones; nobody sees a meter outside :func:`meters_readable_by`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.models import Membership, Meter
from accounts.permissions import HasRole
from accounts.services import meter_create
from flexplatform.api import list_schema, paginated
from flexplatform.errors import ApplicationError, NotFound

from ..ingest.bulk import readings_bulk_import
from ..ingest.csvfile import parse_csv, parse_start
from ..ingest.jsonbatch import parse_json_batch
from ..ingest.services import meter_for_upload, readings_import
from ..ingest.store import green_button_import
from ..models import Channel, ImportBatch, MeterStatus
from ..quality_window import meter_quality_window
from ..selectors import meter_consumption, meter_readings, meter_visible, meters_readable_by, reading_revisions
from ..services import meter_status_refresh

WRITERS = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN)
READERS = (*WRITERS, Membership.Role.GRID_OPERATOR)
MAX_UPLOAD_BYTES = 2_000_000_000


class ImportBatchOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    filename = serializers.CharField()
    account_number = serializers.CharField()
    rows_total = serializers.IntegerField()
    rows_new = serializers.IntegerField()
    rows_unchanged = serializers.IntegerField()
    rows_revised = serializers.IntegerField()
    rows_skipped = serializers.IntegerField()
    rows_export = serializers.IntegerField()
    reading_qualities = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()


def _batch_response(batch: ImportBatch) -> Response:
    return Response(ImportBatchOutputSerializer(batch).data, status=status.HTTP_201_CREATED)


class ReadingsBatchInputSerializer(serializers.Serializer):
    account_number = serializers.CharField(required=False, allow_blank=True, default="")
    readings = serializers.ListField(child=serializers.DictField(), allow_empty=False, max_length=100_000)


class ReadingsBatchApi(APIView):
    """POST a JSON batch of readings; stored all-or-nothing."""

    permission_classes = [HasRole]
    allowed_roles = WRITERS

    @extend_schema(request=ReadingsBatchInputSerializer, responses={201: ImportBatchOutputSerializer})
    def post(self, request):
        data = ReadingsBatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = readings_import(
            user=request.user,
            source=ImportBatch.Source.JSON,
            parsed=parse_json_batch(data.validated_data["readings"]),
            account_number=data.validated_data["account_number"],
        )
        return _batch_response(batch)


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(max_length=255)
    account_number = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_file(self, value):
        if value.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError("File too large.")
        return value


class ReadingsCsvUploadApi(APIView):
    """POST a CSV file (multipart ``file``; columns meter_id, start, kwh[, account_number]).

    Large files on Postgres take the COPY path (``METER_BULK_IMPORT_MIN_BYTES``); same rules either way."""

    permission_classes = [HasRole]
    allowed_roles = WRITERS
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": UploadInputSerializer}, responses={201: ImportBatchOutputSerializer})
    def post(self, request):
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        account = data.validated_data["account_number"]
        if connection.vendor == "postgresql" and upload.size >= settings.METER_BULK_IMPORT_MIN_BYTES:
            batch = readings_bulk_import(user=request.user, stream=upload, filename=upload.name, account_number=account)
        else:
            batch = readings_import(
                user=request.user,
                source=ImportBatch.Source.CSV,
                parsed=parse_csv(upload.read()),
                filename=upload.name,
                account_number=account,
            )
        return _batch_response(batch)


class GreenButtonUploadApi(APIView):
    """POST a Green Button file for one meter (multipart ``file``): ESPI XML, or the utility's CSV download.

    The caller's right to write the meter is checked before the body is read; a meter that does not exist and
    one that is not the caller's get the same 404. The file is parsed as a stream (see
    :mod:`assessment.ingest.espi` and :mod:`assessment.ingest.greenbutton_csv`)."""

    permission_classes = [HasRole]
    allowed_roles = WRITERS
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": UploadInputSerializer}, responses={201: ImportBatchOutputSerializer})
    def post(self, request, meter_id: str):
        meter = meter_for_upload(user=request.user, meter_id=meter_id)  # before request.data reads the body
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        batch = green_button_import(
            user=request.user,
            meter=meter,
            stream=upload,
            filename=upload.name,
            account_number=data.validated_data["account_number"],
        )
        return _batch_response(batch)


class MeterOutputSerializer(serializers.Serializer):
    meter_id = serializers.CharField()
    premise = serializers.CharField(source="premise.name")
    kind = serializers.CharField()
    interval_minutes = serializers.IntegerField()
    has_export_channel = serializers.BooleanField()
    timezone = serializers.CharField()


class MeterRegisterInputSerializer(serializers.Serializer):
    premise = serializers.IntegerField()
    meter_id = serializers.CharField(max_length=64)
    kind = serializers.ChoiceField(choices=Meter.Kind.choices, default=Meter.Kind.AMI)
    interval_minutes = serializers.ChoiceField(choices=[5, 15, 30, 60], default=15)
    has_export_channel = serializers.BooleanField(default=False)
    timezone = serializers.CharField(max_length=64, required=False, default="", help_text="Default: the premise's.")


class MeterListApi(APIView):
    """List the meters you may read; register a meter at one of your premises (owner, aggregator, admin)."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @list_schema(MeterOutputSerializer)
    def get(self, request):
        return paginated(request, meters_readable_by(request.user).order_by("pk"), MeterOutputSerializer)

    @extend_schema(request=MeterRegisterInputSerializer, responses={201: MeterOutputSerializer})
    def post(self, request):
        policies.require_role(request.user, WRITERS, "Grid operators read meters only.")
        data = MeterRegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        premise = policies.premises_writable_by(request.user).filter(pk=values.pop("premise")).first()
        if premise is None:
            raise NotFound("No such premise among yours.")
        meter = meter_create(premise=premise, **values)
        return Response(MeterOutputSerializer(meter).data, status=status.HTTP_201_CREATED)


class ReadingOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    kwh = serializers.DecimalField(max_digits=12, decimal_places=4)


class MeterReadingsApi(APIView):
    """Readings of one meter over ``[start, end)`` (ISO 8601 with offset; at most 35 days); ``channel=export``
    for the energy received from the customer (net-metered meters)."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @list_schema(
        ReadingOutputSerializer,
        parameters=[OpenApiParameter("channel", str, enum=[c.value for c in Channel], default=Channel.IMPORT.value)],
    )
    def get(self, request, meter_id: str):
        meter = meter_visible(user=request.user, meter_id=meter_id)
        try:
            start = parse_start(request.query_params.get("start", ""))
            end = parse_start(request.query_params.get("end", ""))
        except ValueError as exc:
            raise ApplicationError(f"start and end: {exc}", fields={"start": [str(exc)]}) from exc
        if not start < end or (end - start).days > 35:
            raise ApplicationError("Give start < end, at most 35 days apart.", fields={"end": ["Invalid range."]})
        channel = request.query_params.get("channel", Channel.IMPORT)
        if channel not in Channel.values:
            raise ApplicationError("channel is import or export.", fields={"channel": ["import or export."]})
        readings = meter_readings(meter=meter, start=start, end=end, channel=channel)
        return paginated(request, readings, ReadingOutputSerializer)


class RevisionOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    old_kwh = serializers.DecimalField(max_digits=12, decimal_places=4)
    new_kwh = serializers.DecimalField(max_digits=12, decimal_places=4)
    batch = serializers.IntegerField(source="batch_id")
    source = serializers.CharField(source="batch.source")
    revised_at = serializers.DateTimeField()


class MeterRevisionsApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @list_schema(RevisionOutputSerializer)
    def get(self, request, meter_id: str):
        meter = meter_visible(user=request.user, meter_id=meter_id)
        return paginated(request, reading_revisions(meter=meter), RevisionOutputSerializer)


class MeterStatusOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = MeterStatus
        fields = [
            "connectivity", "latest_reading_start", "quality_score", "completeness", "clean_days", "issues",
            "ownership_verified_at", "validated", "validated_at", "reasons", "checked_at",
        ]  # fmt: skip


class MeterStatusApi(APIView):
    """The meter's validation status, re-assessed now (connectivity, quality score, validated and why not)."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=MeterStatusOutputSerializer)
    def get(self, request, meter_id: str):
        meter = meter_visible(user=request.user, meter_id=meter_id)
        return Response(MeterStatusOutputSerializer(meter_status_refresh(meter=meter)).data)


class QualityWindowInputSerializer(serializers.Serializer):
    first_day = serializers.DateField(required=False, help_text="Local day; default: the first imported day.")
    last_day = serializers.DateField(required=False, help_text="Local day; default: the last imported day.")


class GapOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    local_start = serializers.CharField()
    intervals = serializers.IntegerField()


class DayCountOutputSerializer(serializers.Serializer):
    day = serializers.DateField()
    expected = serializers.IntegerField()
    present = serializers.IntegerField()
    hours = serializers.IntegerField(required=False)


class MeterQualityOutputSerializer(serializers.Serializer):
    meter_id = serializers.CharField()
    timezone = serializers.CharField()
    first_day = serializers.DateField(allow_null=True)
    last_day = serializers.DateField(allow_null=True)
    days = serializers.IntegerField()
    expected = serializers.IntegerField()
    present = serializers.IntegerField()
    completeness = serializers.FloatField()
    score = serializers.DecimalField(max_digits=5, decimal_places=2)
    clean_days = serializers.IntegerField()
    issues = serializers.DictField(child=serializers.IntegerField())
    gap_count = serializers.IntegerField()
    gaps = GapOutputSerializer(many=True, help_text="The first 50 runs of missing intervals [start, end).")
    incomplete_day_count = serializers.IntegerField()
    incomplete_days = DayCountOutputSerializer(many=True, help_text="The first 50 days missing intervals.")
    dst_days = DayCountOutputSerializer(many=True, help_text="23- and 25-hour local days in the window.")


class MeterQualityApi(APIView):
    """Data quality over a window of local days (default: the imported range): completeness, gaps, DST days.

    Beside ``status/`` (validated now, over the recent past): this describes the data itself, wherever it lies."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(parameters=[QualityWindowInputSerializer], responses=MeterQualityOutputSerializer)
    def get(self, request, meter_id: str):
        meter = meter_visible(user=request.user, meter_id=meter_id)
        data = QualityWindowInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        window = meter_quality_window(
            meter=meter, first_day=data.validated_data.get("first_day"), last_day=data.validated_data.get("last_day")
        )
        return Response(MeterQualityOutputSerializer(window.as_dict()).data)


class MeterConsumptionApi(APIView):
    """Consumption analysis: daily and weekly load shape, peak, base load, load factor, seasonal split."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, meter_id: str):
        meter = meter_visible(user=request.user, meter_id=meter_id)
        return Response({"meter_id": meter.meter_id, **meter_consumption(meter=meter).as_dict()})


urlpatterns = [
    path("readings/", ReadingsBatchApi.as_view(), name="readings-batch"),
    path("readings/csv/", ReadingsCsvUploadApi.as_view(), name="readings-csv"),
    path("meters/", MeterListApi.as_view(), name="meters"),
    path("meters/<str:meter_id>/espi/", GreenButtonUploadApi.as_view(), name="meter-espi"),
    path("meters/<str:meter_id>/green-button/", GreenButtonUploadApi.as_view(), name="meter-green-button"),
    path("meters/<str:meter_id>/readings/", MeterReadingsApi.as_view(), name="meter-readings"),
    path("meters/<str:meter_id>/revisions/", MeterRevisionsApi.as_view(), name="meter-revisions"),
    path("meters/<str:meter_id>/status/", MeterStatusApi.as_view(), name="meter-status"),
    path("meters/<str:meter_id>/quality/", MeterQualityApi.as_view(), name="meter-quality"),
    path("meters/<str:meter_id>/consumption/", MeterConsumptionApi.as_view(), name="meter-consumption"),
]
