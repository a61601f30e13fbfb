from django.contrib import admin

from .models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "scope", "key", "response_status", "created_at"]
    list_filter = ["scope", "response_status"]
    search_fields = ["key", "user__email"]
