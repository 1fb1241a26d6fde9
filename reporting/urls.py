from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.reports, name="index"),
    path("kpis.csv", views.kpi_csv, name="kpi_csv"),
]
