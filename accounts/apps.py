from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and consumer verification"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from flexplatform.api import auth_changed

        from .models import Membership

        for model in (get_user_model(), Token, Membership):
            post_save.connect(auth_changed, sender=model, dispatch_uid=f"auth-changed-save-{model.__name__}")
            post_delete.connect(auth_changed, sender=model, dispatch_uid=f"auth-changed-del-{model.__name__}")
