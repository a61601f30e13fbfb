from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and consumer verification"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.core.signals import request_finished, request_started
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from flexplatform import snapshots

        from .authentication import auth_changed
        from .models import Membership

        for model in (get_user_model(), Token, Membership):
            post_save.connect(auth_changed, sender=model, dispatch_uid=f"auth-changed-save-{model.__name__}")
            post_delete.connect(auth_changed, sender=model, dispatch_uid=f"auth-changed-del-{model.__name__}")
        # a request reads each version token at most once (flexplatform.snapshots)
        request_started.connect(snapshots.request_started, dispatch_uid="snapshots-request-started")
        request_finished.connect(snapshots.request_finished, dispatch_uid="snapshots-request-finished")
