from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal (HTML pages, dashboards, consoles, onboarding)"
