from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market"

    def ready(self) -> None:
        from accounts.hooks import register_aggregation_facts

        from .services import eligibility, gates

        eligibility.connect()
        # the compliance status lists the aggregation minimum through this provider (accounts.hooks)
        register_aggregation_facts(gates.AggregationFacts())
