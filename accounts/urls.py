"""Portal URLs: the landing page and one dashboard per role."""

from django.urls import path

from assessment import views as assessment_views
from settlement import views as settlement_views

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("consumer/", views.consumer_dashboard, name="consumer"),
    path("aggregator/", views.aggregator_dashboard, name="aggregator"),
    path("operator/", views.operator_console, name="operator"),
    path("verify/", views.verify_page, name="verify"),
    path("compliance/", views.compliance_page, name="compliance"),
    path("onboarding/", views.onboarding, name="onboarding"),
    path("onboarding/<slug:step>/", views.onboarding, name="onboarding-step"),
    path("payments/<int:pk>/", settlement_views.payment_detail, name="payment"),
    path("consumer/consumption/", assessment_views.consumption_page, name="consumption"),
    path("compensation/", settlement_views.compensation, name="compensation"),
    path("compensation/console/", settlement_views.console, name="settlement-console"),
]
