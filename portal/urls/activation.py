"""Portal URLs of activation (namespace ``activation``): the dispatch console, the consumer's events, the
aggregator's event response."""

from django.urls import path

from ..views import aggregator, consumer, events, operator, operator_market

urlpatterns = [
    path("console/", operator.console, name="console"),
    path("console/live/", operator.console_live, name="console-live"),
    path("console/premises/", operator.console_premises, name="console-premises"),
    path("console/events/", operator.console_event_create, name="console-event-create"),
    path("console/cascades/", operator.console_cascade_create, name="console-cascade-create"),
    path("console/emergency-stop/", operator_market.emergency_stop_page, name="console-emergency-stop"),
    path("console/emergency-event/", operator_market.emergency_event_page, name="console-emergency-event"),
    path("console/chart.json", operator_market.dispatch_chart, name="console-chart"),
    path("my-events/", consumer.my_events, name="my-events"),
    path("my-events/<int:pk>/", events.event_page, name="event"),
    path("my-events/<int:pk>/opt-out/", events.event_opt_out_page, name="my-event-opt-out"),
    path("portfolio/", aggregator.portfolio, name="portfolio"),
]
