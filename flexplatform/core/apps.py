from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "flexplatform.core"
    label = "core"
    verbose_name = "Platform core"
    default_auto_field = "django.db.models.BigAutoField"
