"""Participants: organisations, their members and roles, grid zones, premises and meters; KYC/KYB verification
cases, consents and enrolments, the audit trail of their status changes, and linked wallets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .storage import kyc_document_storage


class GridZone(models.Model):
    """A zone of the grid. Zones form a hierarchy: ISO zone -> substation -> feeder."""

    class Kind(models.TextChoices):
        ISO_ZONE = "iso_zone", "ISO zone"
        SUBSTATION = "substation", "Substation"
        FEEDER = "feeder", "Feeder"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ISO_ZONE)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    jurisdiction = models.CharField(
        max_length=32,
        blank=True,
        help_text="Compliance profile code (accounts/compliance.py); blank inherits the parent zone's.",
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA timezone operators enter and read times in; blank inherits the parent zone's (else UTC).",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Organisation(models.Model):
    """A market participant: a consumer (household, business, factory), an aggregator or a grid operator."""

    class Kind(models.TextChoices):
        CONSUMER = "consumer", "Consumer"
        AGGREGATOR = "aggregator", "Aggregator"
        GRID_OPERATOR = "grid_operator", "Grid operator"
        PLATFORM = "platform", "Platform"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    service_zones = models.ManyToManyField(
        GridZone, blank=True, related_name="operators", help_text="Grid operators: the zones of their service area."
    )
    licence_number = models.CharField(
        max_length=64, blank=True, help_text="Aggregators: registration/licence as an aggregator in its market."
    )
    licence_expires_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name", "kind"], name="organisation_unique_name_kind")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in an organisation."""

    class Role(models.TextChoices):
        CONSUMER = "consumer", "Consumer"
        AGGREGATOR = "aggregator", "Aggregator"
        GRID_OPERATOR = "grid_operator", "Grid operator"
        ADMIN = "admin", "Platform admin"
        AUDITOR = "auditor", "Auditor (read-only)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    manages_members = models.BooleanField(
        default=False, help_text="May invite members and revoke invitations (the organisation's first member does)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique_user_org")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


class Premise(models.Model):
    """A site that consumes electricity and can offer flexibility."""

    class Segment(models.TextChoices):
        RESIDENTIAL = "residential", "Residential"
        COMMERCIAL = "commercial", "Commercial"
        INDUSTRIAL = "industrial", "Industrial"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="premises")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    segment = models.CharField(max_length=16, choices=Segment.choices)
    grid_zone = models.ForeignKey(GridZone, on_delete=models.PROTECT, related_name="premises")
    timezone = models.CharField(max_length=64, default="UTC")
    utility_account_number = models.CharField(max_length=64, blank=True)
    utility_account_holder = models.CharField(
        max_length=200, blank=True, help_text="The name on the utility account; KYC documents must match it."
    )
    tariff = models.CharField(max_length=64, blank=True)
    aggregator = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrolled_premises",
        limit_choices_to={"kind": Organisation.Kind.AGGREGATOR},
        help_text="The aggregator this premise is enrolled with, if any. Maintained only by the enrolment and "
        "consent services (a cache of the active Enrolment); consent-aware reads go through Enrolment.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="premise_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class Meter(models.Model):
    """An interval meter at a premise."""

    class Kind(models.TextChoices):
        AMI = "ami", "AMI revenue meter"
        SUB_METER = "sub_meter", "Sub-meter"
        DEVICE_TELEMETRY = "device_telemetry", "Device telemetry"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="meters")
    meter_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.AMI)
    interval_minutes = models.PositiveSmallIntegerField(default=15)
    has_export_channel = models.BooleanField(default=False, help_text="Measures export (generation) as well as import.")
    timezone = models.CharField(
        max_length=64,
        help_text="IANA timezone of the meter's local day (its data quality days, its files' local time); "
        "the premise's unless the meter says otherwise.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["meter_id"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_minutes__in=[5, 15, 30, 60]), name="meter_interval_5_15_30_60"),
        ]

    def __str__(self) -> str:
        return self.meter_id

    @property
    def local_timezone(self) -> str:
        """The IANA timezone of the meter's local day: its own, or its premise's when none was given."""
        return self.timezone or self.premise.timezone


class VerificationCase(models.Model):
    """A KYC (person) or KYB (organisation) verification: draft -> submitted -> in review -> verified / rejected,
    and verified -> expired after ``KYC_VALIDITY_DAYS``. Status changes only through ``accounts.kyc.services``."""

    class Kind(models.TextChoices):
        KYC = "kyc", "KYC (person)"
        KYB = "kyb", "KYB (organisation)"

    class Level(models.TextChoices):
        BASIC = "basic", "Basic (identity document)"
        ENHANCED = "enhanced", "Enhanced (identity and business registration)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"

    OPEN_STATUSES = (Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW)

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="verification_cases")
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="verification_cases"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.BASIC)
    legal_name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    review_flags = models.JSONField(default=list, blank=True, help_text="Rule findings the reviewer must look at.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    verified_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(status__in=["draft", "submitted", "in_review"]),
                name="verification_one_open_case_per_org",
            ),
            models.CheckConstraint(
                condition=~Q(status="verified") | Q(verified_until__isnull=False),
                name="verification_verified_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} {self.legal_name} ({self.status})"


class VerificationDocument(models.Model):
    """A document uploaded to a verification case."""

    class DocType(models.TextChoices):
        PASSPORT = "passport", "Passport"
        NATIONAL_ID = "national_id", "National identity card"
        DRIVING_LICENCE = "driving_licence", "Driving licence"
        BUSINESS_REGISTRATION = "business_registration", "Business registration"
        UTILITY_BILL = "utility_bill", "Utility bill"

    IDENTITY_TYPES = (DocType.PASSPORT, DocType.NATIONAL_ID, DocType.DRIVING_LICENCE, DocType.BUSINESS_REGISTRATION)

    case = models.ForeignKey(VerificationCase, on_delete=models.CASCADE, related_name="documents")
    doc_type = models.CharField(max_length=24, choices=DocType.choices)
    number = models.CharField(max_length=64)
    issuing_country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    holder_name = models.CharField(max_length=200)
    expires_on = models.DateField(null=True, blank=True)
    identity_key = models.CharField(max_length=120, db_index=True, help_text="Normalised type:country:number.")
    file = models.FileField(upload_to="kyc/%Y/%m/", blank=True, storage=kyc_document_storage)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "doc_type", "number"], name="verification_document_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} {self.number}"


class VerificationDecision(models.Model):
    """A decision on a case by a provider (automatic rules, auto-approval) or a human reviewer, with reasons."""

    class Provider(models.TextChoices):
        RULES = "rules", "Automatic rule checks"
        MANUAL = "manual", "Manual review"
        AUTO = "auto", "Automatic approval"
        SYSTEM = "system", "System (expiry)"

    class Outcome(models.TextChoices):
        PASS = "pass", "Rules passed"
        REFER = "refer", "Referred to manual review"
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        EXPIRE = "expire", "Expired"

    case = models.ForeignKey(VerificationCase, on_delete=models.CASCADE, related_name="decisions")
    provider = models.CharField(max_length=8, choices=Provider.choices)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reasons = models.JSONField(default=list, blank=True, help_text='[{"rule": ..., "detail": ...}]')
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider}:{self.outcome} on case {self.case_id}"


class Consent(models.Model):
    """A consumer's consent for an aggregator to use a premise's data for a purpose until it expires.

    Revocable at any time; revocation stops data use and removes the premise from future offers."""

    class Purpose(models.TextChoices):
        FLEXIBILITY_AGGREGATION = "flexibility_aggregation", "Aggregate and offer the premise's flexibility"
        DATA_ANALYSIS = "data_analysis", "Analyse consumption data only"

    class Scope(models.TextChoices):
        INTERVAL_READINGS = "interval_readings", "Interval meter readings"
        DEVICE_TELEMETRY = "device_telemetry", "Device telemetry"
        DEVICE_CONTROL = "device_control", "Device control (dispatch)"
        BILLING = "billing", "Tariff and billing data"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="consents")
    aggregator = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="consents_received")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scopes = models.JSONField(help_text="The data the aggregator may use (Consent.Scope values).")
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["premise", "aggregator", "purpose"],
                condition=Q(status="active"),
                name="consent_one_active_per_premise_aggregator_purpose",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("granted_at")), name="consent_expires_after_grant"
            ),
        ]

    def __str__(self) -> str:
        return f"Consent #{self.pk} {self.premise} -> {self.aggregator} ({self.status})"


class Enrolment(models.Model):
    """A premise enrolled with an aggregator for a service over a period, under a consent."""

    class Service(models.TextChoices):
        ENERGY = "energy", "Energy (demand response)"
        CAPACITY = "capacity", "Capacity"
        RESERVE = "reserve", "Reserves / balancing"
        LOCAL_FLEXIBILITY = "local_flexibility", "Local (DSO) flexibility"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="enrolments")
    aggregator = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="enrolments")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="enrolments")
    service = models.CharField(max_length=20, choices=Service.choices, default=Service.LOCAL_FLEXIBILITY)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Open-ended when empty (bounded by the consent).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["premise", "aggregator", "service"],
                condition=Q(status="active"),
                name="enrolment_one_active_per_premise_aggregator_service",
            ),
        ]

    def __str__(self) -> str:
        return f"Enrolment #{self.pk} {self.premise} with {self.aggregator} ({self.service}, {self.status})"


class AuditEntry(models.Model):
    """One status change of a verification case, consent or enrolment: who, when, from -> to, why. Append-only."""

    class Subject(models.TextChoices):
        VERIFICATION_CASE = "verification_case", "Verification case"
        CONSENT = "consent", "Consent"
        ENROLMENT = "enrolment", "Enrolment"
        WALLET = "wallet", "Wallet link"

    subject_type = models.CharField(max_length=20, choices=Subject.choices)
    subject_id = models.PositiveBigIntegerField()
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject_idx")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.subject_type}#{self.subject_id}: {self.from_status or '-'} -> {self.to_status}"


class SiweNonce(models.Model):
    """A one-time nonce for an EIP-4361 (Sign-In with Ethereum) message; used at most once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=32, unique=True)
    message = models.TextField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.nonce


class WalletLink(models.Model):
    """A web3 wallet linked to a user by a verified EIP-4361 signature."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet")
    address = models.CharField(max_length=42, unique=True, help_text="EIP-55 checksummed.")
    message = models.TextField()
    signature = models.CharField(max_length=132)
    linked_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.address


# ------------------------------------------------------------------------------------------------------------
# Devices: the flexible loads and resources at a premise, their capabilities and how they are controlled.
# ------------------------------------------------------------------------------------------------------------


class Device(models.Model):
    """A controllable device at a premise, with the capabilities its owner declares.

    Power in kW, energy in kWh, temperatures in °C, all Decimal. ``min_kw``..``max_kw`` is the controllable
    range: the device can be held anywhere between (a load shed from ``max_kw`` down to ``min_kw``).
    """

    class Kind(models.TextChoices):
        EV_CHARGER = "ev_charger", "EV charger"
        HVAC = "hvac", "HVAC / thermostat"
        WATER_HEATER = "water_heater", "Water heater"
        BATTERY = "battery", "Battery storage"
        PV_INVERTER = "pv_inverter", "PV inverter"
        POOL_PUMP = "pool_pump", "Pool pump"
        INDUSTRIAL_PROCESS = "industrial_process", "Industrial process"

    class Channel(models.TextChoices):
        OPENADR_VEN = "openadr_ven", "OpenADR VEN"
        MQTT = "mqtt", "MQTT"
        OCPP = "ocpp", "OCPP"
        S2 = "s2", "S2 (EN 50491-12-2)"
        VENDOR_API = "vendor_api", "Vendor API"
        MANUAL = "manual", "Manual"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    manufacturer = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=120, blank=True)
    control_channel = models.CharField(max_length=12, choices=Channel.choices)
    channel_address = models.CharField(
        max_length=200,
        blank=True,
        help_text="VEN id, MQTT topic, OCPP charge point id, S2 energy manager URL or vendor device id.",
    )
    rated_kw = models.DecimalField(max_digits=10, decimal_places=3)
    min_kw = models.DecimalField(max_digits=10, decimal_places=3, default=0, help_text="Lowest controllable power.")
    max_kw = models.DecimalField(max_digits=10, decimal_places=3, help_text="Highest controllable power.")
    ramp_kw_per_min = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    min_event_minutes = models.PositiveIntegerField(default=15)
    max_event_minutes = models.PositiveIntegerField(default=240)
    notice_minutes = models.PositiveIntegerField(default=0, help_text="Advance notice the device needs.")
    max_events_per_day = models.PositiveSmallIntegerField(default=1)
    max_events_per_month = models.PositiveSmallIntegerField(default=20)
    rebound_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Share of the shed energy consumed after the event."
    )
    rebound_minutes = models.PositiveIntegerField(default=0)
    comfort_min_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    comfort_max_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    setpoint_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    capacity_kwh = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    soc_min_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    soc_max_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    soc_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Latest reported state of charge."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["premise", "name"]
        constraints = [
            models.UniqueConstraint(fields=["premise", "name"], name="device_unique_name_per_premise"),
            models.CheckConstraint(condition=Q(rated_kw__gt=0), name="device_rated_kw_positive"),
            models.CheckConstraint(
                condition=Q(min_kw__gte=0) & Q(min_kw__lte=models.F("max_kw")) & Q(max_kw__lte=models.F("rated_kw")),
                name="device_range_within_rating",
            ),
            models.CheckConstraint(
                condition=Q(min_event_minutes__lte=models.F("max_event_minutes")), name="device_event_minutes_order"
            ),
            models.CheckConstraint(
                condition=Q(max_events_per_day__lte=models.F("max_events_per_month")), name="device_event_limits"
            ),
            models.CheckConstraint(
                condition=Q(rebound_percent__gte=0) & Q(rebound_percent__lte=200), name="device_rebound_0_200"
            ),
            models.CheckConstraint(
                condition=Q(comfort_min_c__isnull=True)
                | Q(comfort_max_c__isnull=True)
                | Q(comfort_min_c__lt=models.F("comfort_max_c")),
                name="device_comfort_band_order",
            ),
            models.CheckConstraint(
                condition=Q(soc_min_percent__isnull=True)
                | Q(soc_max_percent__isnull=True)
                | (
                    Q(soc_min_percent__gte=0)
                    & Q(soc_min_percent__lt=models.F("soc_max_percent"))
                    & Q(soc_max_percent__lte=100)
                ),
                name="device_soc_limits_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class ApiToken(models.Model):
    """A REST API token (``Authorization: Token <key>``). The key is shown once, at issue; only its SHA-256 digest
    is kept. A token dies when it expires (``API_TOKEN_TTL_DAYS``), when its owner revokes or rotates it, and when
    the owner's password changes (``password_stamp`` is the session-auth hash of the password at issue, the value
    Django uses to end sessions on a password change). Services: ``accounts.tokens``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell tokens apart.")
    password_stamp = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


from accounts.models_device_credentials import DeviceCredential  # noqa: E402,F401
from accounts.models_notifications import Notification, NotificationKind, NotificationPreference  # noqa: E402,F401
from accounts.models_tax import TaxProfile  # noqa: E402,F401
from accounts.models_terms import CommercialTerms, ConsentTerms  # noqa: E402,F401

from .models_invitations import Invitation  # noqa: E402,F401 - registered with the app's models
