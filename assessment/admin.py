from django.contrib import admin

from .models import (
    AvailabilityDeclaration,
    Baseline,
    BaselineAccuracy,
    BaselineInterval,
    BaselineProgram,
    FlexibilityAssessment,
    FlexibilityProfile,
    ImportBatch,
    MeterReading,
    MeterStatus,
    ProgramEnrolment,
    ReadingRevision,
)


@admin.register(MeterReading)
class MeterReadingAdmin(admin.ModelAdmin):
    list_display = ["meter", "start", "kwh"]
    list_filter = ["meter__premise__segment"]
    search_fields = ["meter__meter_id"]
    date_hierarchy = "start"
    raw_id_fields = ["meter"]
    show_full_result_count = False

    # Readings change only through the import services, which record a revision: read-only here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BaselineIntervalInline(admin.TabularInline):
    model = BaselineInterval
    extra = 0


@admin.register(Baseline)
class BaselineAdmin(admin.ModelAdmin):
    list_display = ["meter", "method", "window_start", "window_end", "total_kwh", "computed_at"]
    list_filter = ["method"]
    search_fields = ["meter__meter_id"]
    raw_id_fields = ["meter"]
    inlines = [BaselineIntervalInline]


@admin.register(FlexibilityAssessment)
class FlexibilityAssessmentAdmin(admin.ModelAdmin):
    list_display = ["premise", "window_start", "window_end", "baseline_kw", "capacity_kw", "method"]
    list_filter = ["premise__segment", "method"]
    search_fields = ["premise__name"]
    raw_id_fields = ["premise", "baseline"]


@admin.register(BaselineProgram)
class BaselineProgramAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "method", "created_at"]
    search_fields = ["code", "name"]


@admin.register(ProgramEnrolment)
class ProgramEnrolmentAdmin(admin.ModelAdmin):
    list_display = ["premise", "program", "enrolled_at"]
    raw_id_fields = ["premise"]


@admin.register(BaselineAccuracy)
class BaselineAccuracyAdmin(admin.ModelAdmin):
    list_display = ["meter", "method", "as_of", "cvrmse_pct", "nmbe_pct", "meets_guideline14", "recommended"]
    list_filter = ["method", "recommended"]
    raw_id_fields = ["meter"]


@admin.register(FlexibilityProfile)
class FlexibilityProfileAdmin(admin.ModelAdmin):
    list_display = ["premise", "as_of", "score", "peak_shaving_kw", "load_shift_kwh", "reliability_factor"]
    raw_id_fields = ["premise"]


@admin.register(AvailabilityDeclaration)
class AvailabilityDeclarationAdmin(admin.ModelAdmin):
    list_display = ["premise", "available_kw", "soc_percent", "valid_from", "valid_until", "declared_by"]
    raw_id_fields = ["premise"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "filename", "uploaded_by", "rows_total", "rows_new", "rows_unchanged",
                    "rows_revised", "rows_skipped", "created_at"]  # fmt: skip
    list_filter = ["source"]
    search_fields = ["filename", "uploaded_by__email", "account_number"]
    date_hierarchy = "created_at"


@admin.register(ReadingRevision)
class ReadingRevisionAdmin(ReadOnlyAdmin):
    list_display = ["meter", "start", "old_kwh", "new_kwh", "batch", "revised_at"]
    search_fields = ["meter__meter_id"]
    date_hierarchy = "revised_at"


@admin.register(MeterStatus)
class MeterStatusAdmin(ReadOnlyAdmin):
    list_display = ["meter", "connectivity", "quality_score", "completeness", "validated", "ownership_verified_at",
                    "checked_at"]  # fmt: skip
    list_filter = ["connectivity", "validated"]
    search_fields = ["meter__meter_id"]
