"""Interval meter data, baselines and assessed flexible capacity."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MeterReading(models.Model):
    """Energy through a meter over one interval ``[start, start + interval)``, in kWh; ``start`` is aware UTC.

    The table is keyed and always read by ``(meter, start)``, so it can be range-partitioned by ``start``
    in Postgres without changing the code that reads it.
    """

    # No separate index on meter: the unique (meter, start) index serves every lookup by meter, and one
    # index fewer is one write fewer per reading on the bulk path.
    meter = models.ForeignKey("accounts.Meter", on_delete=models.PROTECT, related_name="readings", db_index=False)
    start = models.DateTimeField()
    kwh = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "start"], name="reading_unique_meter_start"),
            models.CheckConstraint(condition=Q(kwh__gte=0), name="reading_kwh_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.start:%Y-%m-%d %H:%M}: {self.kwh} kWh"


class MeterExportReading(models.Model):
    """Energy through a meter's export channel over one interval: received from the customer (generation fed
    into the grid; ESPI ``flowDirection`` 19, "reverse"), in kWh. Kept apart from :class:`MeterReading` (the
    import channel every baseline and verification reads) so that net metering never changes a consumption
    figure. Only meters registered ``has_export_channel`` have it."""

    meter = models.ForeignKey(
        "accounts.Meter", on_delete=models.PROTECT, related_name="export_readings", db_index=False
    )
    start = models.DateTimeField()
    kwh = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "start"], name="export_reading_unique_meter_start"),
            models.CheckConstraint(condition=Q(kwh__gte=0), name="export_reading_kwh_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.start:%Y-%m-%d %H:%M}: {self.kwh} kWh exported"


class Channel(models.TextChoices):
    IMPORT = "import", "Import (delivered to the customer)"
    EXPORT = "export", "Export (received from the customer)"


class Baseline(models.Model):
    """The counterfactual load of a meter over a window: what it would have used without an event."""

    meter = models.ForeignKey("accounts.Meter", on_delete=models.PROTECT, related_name="baselines")
    method = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    days_used = models.JSONField(default=list, help_text="The local dates the baseline averaged, oldest first.")
    choice = models.ForeignKey(
        "BaselineChoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="baselines",
        help_text="The meter's recorded choice this settlement baseline followed (none: explicit method).",
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    total_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-computed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "method", "window_start", "window_end"], name="baseline_unique_meter_method_window"
            ),
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")), name="baseline_window_order"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.meter_id} {self.window_start:%Y-%m-%d %H:%M}"


class BaselineInterval(models.Model):
    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="intervals")
    start = models.DateTimeField()
    kwh = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["baseline", "start"], name="baseline_interval_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M} {self.kwh} kWh"


class FlexibilityAssessment(models.Model):
    """The flexible capacity (kW) a premise can offer over a window, and how it was derived."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="assessments")
    baseline = models.ForeignKey(Baseline, on_delete=models.PROTECT, related_name="assessments")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    baseline_kw = models.DecimalField(max_digits=12, decimal_places=3)
    capacity_kw = models.DecimalField(max_digits=12, decimal_places=3)
    method = models.CharField(max_length=40, help_text="devices, estimate:<label> or no-devices (ADR 0029).")
    breakdown = models.JSONField(default=list, blank=True, help_text="Per device: kW counted and why.")
    assessed_at = models.DateTimeField()

    class Meta:
        ordering = ["-assessed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["premise", "window_start", "window_end"], name="assessment_unique_premise_window"
            ),
            models.CheckConstraint(condition=Q(capacity_kw__gte=0), name="assessment_capacity_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.premise} {self.capacity_kw} kW"


# --- Baseline programs, accuracy, flexibility profiles, availability (assessment issue) ------------


class BaselineProgram(models.Model):
    """A demand-response program's baseline policy: its method and parameters, and how each resource's settlement
    baseline is picked (the program's method for every resource, or the most accurate on the resource's like
    days, re-evaluated monthly: :mod:`assessment.choice_services`)."""

    class Policy(models.TextChoices):
        FIXED = "fixed", "The program's method for every resource"
        MOST_ACCURATE = "most-accurate", "Most accurate on the resource's like days, re-evaluated monthly"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    method = models.CharField(max_length=40, help_text="A key of assessment.baselines.compute.METHODS.")
    parameters = models.JSONField(default=dict, blank=True)
    policy = models.CharField(max_length=16, choices=Policy.choices, default=Policy.FIXED)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.code} ({self.method})"


class ProgramEnrolment(models.Model):
    """Which baseline program a premise is settled under (one at a time)."""

    premise = models.OneToOneField("accounts.Premise", on_delete=models.CASCADE, related_name="baseline_enrolment")
    program = models.ForeignKey(BaselineProgram, on_delete=models.PROTECT, related_name="enrolments")
    enrolled_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.premise_id} -> {self.program.code}"


class BaselineChoice(models.Model):
    """The settlement baseline method of one meter for one local month and day type, with the accuracy that
    justified it. Made once, at the first settlement in that month and day type, and never changed: every event
    of the month and day type settles on it (:func:`assessment.choice_services.baseline_choice_for`)."""

    class DayType(models.TextChoices):
        WEEKDAY = "weekday", "Business day"
        SATURDAY = "saturday", "Saturday"
        SUNDAY_HOLIDAY = "sunday-holiday", "Sunday or holiday"

    meter = models.ForeignKey("accounts.Meter", on_delete=models.CASCADE, related_name="baseline_choices")
    program = models.ForeignKey(BaselineProgram, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    month = models.DateField(help_text="The first day of the local month.")
    day_type = models.CharField(max_length=16, choices=DayType.choices)
    policy = models.CharField(max_length=16, choices=BaselineProgram.Policy.choices)
    method = models.CharField(max_length=40)
    default_method = models.CharField(max_length=40, help_text="The program's method, kept unless beaten clearly.")
    evidence = models.JSONField(
        default=dict,
        blank=True,
        help_text="The back-test that justified the choice: like days, window, per-method score and accuracy.",
    )
    chosen_at = models.DateTimeField()

    class Meta:
        ordering = ["meter", "-month", "day_type"]
        constraints = [
            models.UniqueConstraint(fields=["meter", "month", "day_type"], name="baseline_choice_unique_month_type")
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.month:%Y-%m} {self.day_type}: {self.method}"


class BaselineAccuracy(models.Model):
    """A method's back-test on a meter's held-out non-event days (ASHRAE Guideline 14 metrics)."""

    meter = models.ForeignKey("accounts.Meter", on_delete=models.CASCADE, related_name="baseline_accuracy")
    method = models.CharField(max_length=40)
    as_of = models.DateField()
    days = models.PositiveSmallIntegerField()
    intervals = models.PositiveIntegerField()
    relative_error_pct = models.DecimalField(max_digits=9, decimal_places=3)
    nmbe_pct = models.DecimalField(max_digits=9, decimal_places=3)
    cvrmse_pct = models.DecimalField(max_digits=9, decimal_places=3)
    meets_guideline14 = models.BooleanField()
    recommended = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["meter", "as_of", "cvrmse_pct"]
        constraints = [
            models.UniqueConstraint(fields=["meter", "method", "as_of"], name="accuracy_unique_meter_method_day")
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.method} CV(RMSE) {self.cvrmse_pct} %"


class FlexibilityProfile(models.Model):
    """A premise's flexibility measures as of a day (recomputed when meter data lands and nightly)."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.CASCADE, related_name="flexibility_profiles")
    as_of = models.DateField()
    availability_scores = models.JSONField(help_text="168 integers 0-100, Monday 00:00 local first.")
    seasonal = models.JSONField(default=dict)
    peak_shaving_kw = models.DecimalField(max_digits=12, decimal_places=3)
    load_shift_kwh = models.DecimalField(max_digits=12, decimal_places=3)
    reliability_factor = models.DecimalField(max_digits=5, decimal_places=4)
    score = models.PositiveSmallIntegerField(help_text="Mean availability score over the system peak hours.")
    drivers = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of"]
        constraints = [models.UniqueConstraint(fields=["premise", "as_of"], name="profile_unique_premise_day")]

    def __str__(self) -> str:
        return f"{self.premise_id} {self.as_of} score {self.score}"


class AvailabilityDeclaration(models.Model):
    """A real-time declaration: the premise can deliver at most ``available_kw`` until ``valid_until``."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.CASCADE, related_name="availability")
    declared_by = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    available_kw = models.DecimalField(max_digits=12, decimal_places=3)
    soc_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["premise", "valid_until"], name="availability_premise_until")]
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("valid_from")), name="availability_window"),
            models.CheckConstraint(condition=Q(available_kw__gte=0), name="availability_kw_non_negative"),
            models.CheckConstraint(
                condition=Q(soc_percent__isnull=True) | Q(soc_percent__gte=0, soc_percent__lte=100),
                name="availability_soc_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.premise_id} {self.available_kw} kW until {self.valid_until:%Y-%m-%d %H:%M}"


# --- Meter data imports, revisions and status (meter ingestion) ---------------------------------


class ImportBatch(models.Model):
    """One accepted import of meter readings (a JSON batch, a CSV or Green Button file): who, what, counts.

    Imports are all-or-nothing, so a batch exists only for a file that was stored whole.
    """

    class Source(models.TextChoices):
        JSON = "json", "REST JSON batch"
        CSV = "csv", "CSV file"
        ESPI = "espi", "Green Button (ESPI XML)"
        BULK = "bulk", "Bulk CSV (COPY)"
        GREEN_BUTTON_CSV = "gbcsv", "Green Button CSV (utility download)"

    source = models.CharField(max_length=8, choices=Source.choices)
    filename = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_number = models.CharField(
        max_length=64, blank=True, help_text="The utility account the file declares; matched against the premise."
    )
    meters = models.ManyToManyField("accounts.Meter", related_name="import_batches", blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_revised = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(
        default=0,
        help_text="Records not stored: export readings of a meter without an export channel, "
        "register (non-interval) readings, projected values.",
    )
    rows_export = models.PositiveIntegerField(default=0, help_text="Of rows_total, on the export channel.")
    reading_qualities = models.JSONField(
        default=dict, blank=True, help_text="Readings the file flags (ESPI ReadingQuality), by quality name."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_total=models.F("rows_new") + models.F("rows_unchanged") + models.F("rows_revised")),
                name="import_batch_counts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.filename or self.pk} ({self.rows_total} rows)"


class ReadingRevision(models.Model):
    """A corrected value for a stored reading: the old and new kWh, which import brought it, when.

    Keyed by ``(meter, start)`` rather than by the reading's id so that the readings table can be
    partitioned by ``start`` (a partitioned table's keys must include the partition column).
    """

    meter = models.ForeignKey("accounts.Meter", on_delete=models.PROTECT, related_name="reading_revisions")
    channel = models.CharField(max_length=6, choices=Channel.choices, default=Channel.IMPORT, db_default="import")
    start = models.DateTimeField()
    old_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    new_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="revisions")
    revised_at = models.DateTimeField()

    class Meta:
        ordering = ["meter", "start", "revised_at"]
        indexes = [models.Index(fields=["meter", "start"], name="revision_meter_start")]
        constraints = [
            models.CheckConstraint(condition=~Q(old_kwh=models.F("new_kwh")), name="revision_changes_value"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.start:%Y-%m-%d %H:%M}: {self.old_kwh} -> {self.new_kwh}"


class MeterStatus(models.Model):
    """The latest validation of a meter: ownership, connectivity, data quality, and whether it is validated."""

    class Connectivity(models.TextChoices):
        ONLINE = "online", "Online"
        STALE = "stale", "Stale"
        OFFLINE = "offline", "Offline"
        NEVER = "never", "No data"

    meter = models.OneToOneField("accounts.Meter", on_delete=models.CASCADE, related_name="status")
    ownership_verified_at = models.DateTimeField(null=True, blank=True)
    ownership_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    connectivity = models.CharField(max_length=8, choices=Connectivity.choices, default=Connectivity.NEVER)
    latest_reading_start = models.DateTimeField(null=True, blank=True)
    quality_score = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    completeness = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    clean_days = models.PositiveIntegerField(default=0)
    issues = models.JSONField(default=dict, blank=True)
    validated = models.BooleanField(default=False)
    validated_at = models.DateTimeField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True, help_text="Why the meter is not validated (empty if it is).")
    checked_at = models.DateTimeField(null=True, blank=True)
    # The last year's consumption as of ``checked_at`` (revenue meters): the annual-kWh estimate of the compliance
    # rules reads these instead of summing a year of readings per premise on every page (ADR 0033).
    year_kwh = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="kWh read over the 365 days to the check."
    )
    year_intervals = models.PositiveIntegerField(default=0, help_text="How many readings make up year_kwh.")

    class Meta:
        verbose_name_plural = "meter statuses"
        constraints = [
            models.CheckConstraint(
                condition=Q(quality_score__gte=0) & Q(quality_score__lte=100), name="meter_status_score_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}: {'validated' if self.validated else 'not validated'}"


# Weather stations, temperatures and premise locations (assessment/weather/).
from assessment.models_estimates import CapacityEstimate  # noqa: E402,F401

from .weather.models import (  # noqa: E402, F401
    PostalCodePoint,
    PremiseLocation,
    TemperatureObservation,
    WeatherStation,
)
