"""The portal's URL confs, one per namespace the templates use: ``portal`` (here: the landing page, one dashboard
per role, onboarding, compliance, compensation, payments), ``market-portal`` (``portal.urls.market``: public
prices) and ``activation`` (``portal.urls.activation``: the dispatch console, the consumer's events, the
aggregator's event response)."""

from django.urls import path

from ..views import (
    admin,
    aggregator,
    auditor,
    consumer,
    members,
    onboarding,
    operator,
    operator_market,
    participant,
    protection,
    public,
    settings,
)

urlpatterns = [
    path("", public.home, name="home"),
    path("consumer/", consumer.consumer_dashboard, name="consumer"),
    path("aggregator/", aggregator.aggregator_dashboard, name="aggregator"),
    path("aggregator/enrol/", aggregator.enrol_page, name="aggregator-enrol"),
    path("aggregator/orders/new/", aggregator.portfolio_order_page, name="aggregator-order"),
    path("operator/", operator.operator_console, name="operator"),
    path("operator/requests/", operator_market.requests_page, name="operator-requests"),
    path("operator/auctions/", operator_market.auctions_page, name="operator-auctions"),
    path("operator/clearing/<int:pk>/", operator_market.clearing_run_page, name="clearing-run"),
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
    path("audit/", auditor.audit_home, name="audit"),
    path("audit/cases/<int:pk>/", auditor.audit_case, name="audit-case"),
    path("audit/documents/<int:document_id>/", auditor.audit_document, name="audit-document"),
    path("audit/<slug:slug>/", auditor.audit_section, name="audit-section"),
    path("settings/members/", members.members_page, name="members"),
    path("invitations/", members.invitation_page, {"token": ""}, name="invitation-prefix"),
    path("invitations/<str:token>/", members.invitation_page, name="invitation"),
    path("protection/", protection.bill_protection_page, name="bill-protection"),
    path("tax/", protection.tax_page, name="tax"),
    path("tax/<int:org>/<int:year>.<str:fmt>", protection.tax_statement_download, name="tax-statement"),
]
