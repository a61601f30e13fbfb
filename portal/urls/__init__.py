"""The portal's URL confs, one per namespace the templates use: ``portal`` (here: the landing page, one dashboard
per role, onboarding, compliance, compensation, payments), ``market-portal`` (``portal.urls.market``: public
prices) and ``activation`` (``portal.urls.activation``: the dispatch console, the consumer's events, the
aggregator's event response)."""

from django.urls import path

from ..views import admin, aggregator, consumer, onboarding, operator, participant, public, settings

urlpatterns = [
    path("", public.home, name="home"),
    path("consumer/", consumer.consumer_dashboard, name="consumer"),
    path("aggregator/", aggregator.aggregator_dashboard, name="aggregator"),
    path("aggregator/terms/", aggregator.aggregator_terms, name="aggregator-terms"),
    path("operator/", operator.operator_console, name="operator"),
    path("verify/", public.verify_page, name="verify"),
    path(".well-known/flexplatform-anchor.json", public.anchor_well_known, name="anchor-well-known"),
    path("compliance/", participant.compliance_page, name="compliance"),
    path("onboarding/", onboarding.onboarding, name="onboarding"),
    path("onboarding/<slug:step>/", onboarding.onboarding, name="onboarding-step"),
    path("payments/<int:pk>/", participant.payment_detail, name="payment"),
    path("consumer/consumption/", consumer.consumption_page, name="consumption"),
    path("compensation/", participant.compensation, name="compensation"),
    path("compensation/console/", admin.settlement_console, name="settlement-console"),
    path("settings/tokens/", settings.api_tokens, name="api-tokens"),
]
