"""Activation pages: the operator's dispatch console, the consumer's events, the aggregator's event response."""

from django.urls import path

from . import views

urlpatterns = [
    path("console/", views.console, name="console"),
    path("console/live/", views.console_live, name="console-live"),
    path("console/events/", views.console_event_create, name="console-event-create"),
    path("console/cascades/", views.console_cascade_create, name="console-cascade-create"),
    path("console/emergency-stop/", views.console_emergency_stop, name="console-emergency-stop"),
    path("my-events/", views.my_events, name="my-events"),
    path("my-events/<int:pk>/opt-out/", views.my_event_opt_out, name="my-event-opt-out"),
    path("portfolio/", views.portfolio, name="portfolio"),
]
