"""Two sets of routes: `staff_urls` for agents under /knowledge/, `help_urls` for everyone
under /help/ (see helpdesk/urls.py)."""

from django.urls import include, path

from knowledge import views

staff_urls = (
    [
        path("", views.article_list, name="list"),
        path("review/", views.review_list, name="review"),
        path("picker/", views.picker, name="picker"),
        path("<slug:slug>/", views.article_detail, name="article"),
        path("<slug:slug>/reviewed/", views.mark_reviewed, name="reviewed"),
    ],
    "knowledge",
)

help_urls = (
    [
        path("", views.help_index, name="index"),
        path("suggest/", views.help_suggest, name="suggest"),
        path("<slug:slug>/", views.help_article, name="article"),
        path("<slug:slug>/solved/", views.help_solved, name="solved"),
    ],
    "help",
)

urlpatterns = [path("knowledge/", include(staff_urls)), path("help/", include(help_urls))]
