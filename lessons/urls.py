from django.urls import path

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from lessons import views

app_name = "lessons"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("measures/", views.open_measures, name="measures"),
    path("measures/<int:pk>/done/", views.measure_done, name="measure_done"),
    path("<ref:reference>/", views.report_page, name="report"),
    path("<ref:reference>/measures/", views.measure_add, name="measure_add"),
]
