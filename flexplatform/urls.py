"""URL map: the portal (``portal.urls``), allauth, admin, the REST API under /api/v1/, its OpenAPI schema and
its browsers (Swagger UI, ReDoc: served from the project's static files)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

api_v1 = [
    path("accounts/", include(("accounts.api", "accounts"), namespace="accounts")),
    path("assessment/", include(("assessment.api", "assessment"), namespace="assessment")),
    path("market/", include(("market.api", "market"), namespace="market")),
    path("activation/", include(("activation.api", "activation"), namespace="activation")),
    path("settlement/", include(("settlement.api", "settlement"), namespace="settlement")),
]

urlpatterns = [
    path("", include(("portal.urls", "portal"), namespace="portal")),
    path("market/", include(("portal.urls.market", "market-portal"), namespace="market-portal")),
    path("accounts/", include("allauth.urls")),
    path("activation/", include(("portal.urls.activation", "activation"), namespace="activation")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("openadr3/3.0.1/", include(("activation.openadr", "openadr3"), namespace="openadr3")),
    path("openadr3/3.1.0/", include(("activation.openadr31", "openadr31"), namespace="openadr31")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI (its init script served from our origin: no inline script) and ReDoc, from drf-spectacular-sidecar
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]
