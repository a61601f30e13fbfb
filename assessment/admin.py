from django.contrib import admin

from .models import Baseline, BaselineInterval, FlexibilityAssessment, MeterReading


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
