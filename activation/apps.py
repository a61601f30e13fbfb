from django.apps import AppConfig


def _awards_committed(sender, *, award_ids: list[int], **kwargs) -> None:
    from . import tasks

    for pk in award_ids:
        tasks.create_event_for_award.delay(pk)


class ActivationConfig(AppConfig):
    name = "activation"
    verbose_name = "Activation and verification"

    def ready(self) -> None:
        from market.hooks import awards_committed, register_premise_source

        from .models import DREvent, Enrollment, EventVerification

        # Every committed award becomes an event (market.hooks.awards_committed).
        awards_committed.connect(_awards_committed, dispatch_uid="activation-event-for-award")
        # The market's kept capacity answers of a premise depend on its enrollments and verified events.
        register_premise_source(Enrollment, lambda i: i.premise_id)
        register_premise_source(
            EventVerification,
            lambda i: DREvent.objects.filter(pk=i.event_id).values_list("premise_id", flat=True).first(),
        )
