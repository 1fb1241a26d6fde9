from django.contrib import admin

from reporting.models import WeeklyReportSubscription


@admin.register(WeeklyReportSubscription)
class WeeklyReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
