"""Portal URLs of the market."""

from django.urls import path

from . import views

urlpatterns = [path("prices/", views.prices_page, name="prices")]
