from django.apps import AppConfig


class ActivationConfig(AppConfig):
    name = "activation"
    verbose_name = "Activation and verification"

    def ready(self) -> None:
        from . import hooks

        # lends assessment activation's facts and answers market.hooks.awards_committed (activation.hooks)
        hooks.connect()
