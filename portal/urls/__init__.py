"""The portal's URL confs, one per namespace the templates use: ``portal`` (here: the landing page, one dashboard
per role, onboarding, compliance, compensation, payments), ``market-portal`` (``portal.urls.market``: public
prices) and ``activation`` (``portal.urls.activation``: the dispatch console, the consumer's events, the
aggregator's event response)."""

from django.urls import path

from ..views import (
    admin,
    aggregator,
    consumer,
    consumer_data,
    money,
    notifications,
    offers,
    onboarding,
    operator,
    participant,
    public,
    settings,
)

urlpatterns = [
    path("", public.home, name="home"),
    path("consumer/", consumer.consumer_dashboard, name="consumer"),
    path("aggregator/", aggregator.aggregator_dashboard, name="aggregator"),
    path("operator/", operator.operator_console, name="operator"),
    path("verify/", public.verify_page, name="verify"),
    path(".well-known/flexplatform-anchor.json", public.anchor_well_known, name="anchor-well-known"),
    path("compliance/", participant.compliance_page, name="compliance"),
    path("onboarding/", onboarding.onboarding, name="onboarding"),
    path("onboarding/<slug:step>/", onboarding.onboarding, name="onboarding-step"),
    path("payments/<int:pk>/", participant.payment_detail, name="payment"),
    path("consumer/consumption/", consumer.consumption_page, name="consumption"),
    path("consumer/meter-data/", consumer_data.meter_upload, name="meter-upload"),
    path("consumer/consents/", consumer_data.consents_page, name="consents"),
    path("consumer/consents/<int:pk>/revoke/", consumer_data.consent_revoke, name="consent-revoke"),
    path("consumer/availability/", consumer_data.availability_page, name="availability"),
    path("consumer/offers/", offers.offers_page, name="offers"),
    path("consumer/money/", money.earnings_page, name="money"),
    path("consumer/offers/<int:pk>/cancel/", offers.offer_cancel, name="offer-cancel"),
    path("consumer/offers/<int:pk>/modify/", offers.offer_modify, name="offer-modify"),
    path("consumer/devices/<int:pk>/limits/", consumer_data.device_limits, name="device-limits"),
    path("compensation/", participant.compensation, name="compensation"),
    path("compensation/console/", admin.settlement_console, name="settlement-console"),
    path("settings/tokens/", settings.api_tokens, name="api-tokens"),
    path("notifications/", notifications.inbox, name="notifications"),
    path("notifications/read/", notifications.mark_all_read, name="notifications-read"),
    path("settings/notifications/", notifications.preferences, name="notification-preferences"),
]
