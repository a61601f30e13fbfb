from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and consumer verification"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.core.signals import request_finished, request_started
        from django.db.models.signals import post_delete, post_save

        from flexplatform import snapshots

        from . import lockout
        from .authentication import auth_changed
        from .models import ApiToken, Membership

        for model in (get_user_model(), ApiToken, Membership):
            post_save.connect(auth_changed, sender=model, dispatch_uid=f"auth-changed-save-{model.__name__}")
            post_delete.connect(auth_changed, sender=model, dispatch_uid=f"auth-changed-del-{model.__name__}")
        from allauth.mfa.signals import authentication_failed

        authentication_failed.connect(lockout.mfa_failed, dispatch_uid="lockout-mfa-failed")
        # a request reads each version token at most once (flexplatform.snapshots)
        request_started.connect(snapshots.request_started, dispatch_uid="snapshots-request-started")
        request_finished.connect(snapshots.request_finished, dispatch_uid="snapshots-request-finished")
