from django.contrib import admin

from .models import (
    AvailabilityDeclaration,
    Baseline,
    BaselineAccuracy,
    BaselineInterval,
    BaselineProgram,
    FlexibilityAssessment,
    FlexibilityProfile,
    MeterReading,
    ProgramEnrolment,
)


@admin.register(MeterReading)
class MeterReadingAdmin(admin.ModelAdmin):
    list_display = ["meter", "start", "kwh"]
    list_filter = ["meter__premise__segment"]
    search_fields = ["meter__meter_id"]
    date_hierarchy = "start"
    raw_id_fields = ["meter"]
    show_full_result_count = False


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
