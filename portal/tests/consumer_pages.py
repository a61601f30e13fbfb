"""Every page of a consumer's navigation and the pages they lead to, as path templates (``{event}``: a past
event of theirs, ``{coming}``: an upcoming one, ``{payment}``: one of their settlement items). One list for the
query-growth test (portal/tests/test_consumer_page_queries.py) and the page bench (bench/bench_consumer_pages.py)."""

CONSUMER_PAGES = [
    "/consumer/",
    "/activation/my-events/",
    "/activation/my-events/{event}/",
    "/activation/my-events/{coming}/opt-out/",
    "/consumer/offers/",
    "/consumer/availability/",
    "/consumer/consents/",
    "/consumer/meter-data/",
    "/consumer/money/",
    "/notifications/",
    "/settings/notifications/",
    "/onboarding/",
    "/consumer/consumption/",
    "/devices/capacity/",
    "/compensation/",
    "/payments/{payment}/",
    "/staking/",
    "/governance/",
    "/protection/",
    "/payouts/",
    "/tokens/",
    "/compliance/",
    "/tax/",
    "/settings/tokens/",
    "/settings/members/",
]
