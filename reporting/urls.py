from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.reports, name="index"),
    path("kpis.csv", views.kpi_csv, name="kpi_csv"),
    path("report.xlsx", views.report_xlsx, name="xlsx"),
    path("tables/<slug:key>.csv", views.table_csv, name="table_csv"),
    path("weekly/", views.weekly_subscription, name="weekly"),
    path("tickets/<slug:key>/", views.drilldown, name="drill"),
]
