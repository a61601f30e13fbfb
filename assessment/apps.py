from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "assessment"
    verbose_name = "Flexibility assessment"

    def ready(self) -> None:
        from accounts.hooks import register_metering_facts

        from .selectors.metering import MeteringFacts

        # accounts' compliance rules read metering through this provider (accounts.hooks)
        register_metering_facts(MeteringFacts())
