from django.urls import path

from integrations import views

urlpatterns = [
    path("", views.tokens, name="api_tokens"),
    path("<str:key>/revoke/", views.revoke, name="api_token_revoke"),
]
