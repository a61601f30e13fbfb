"""Write services for the market. Each module owns one part:

* ``requests``: flexibility offers and operators' requests, cleared in merit order; ``offers_bulk``: many offers
  in one call;
* ``orders`` (intake ``order_checks``, matching ``matching``, awards ``awards``): the real-time, day-ahead and
  seasonal order paths; ``auctions``: opening and clearing auctions;
* ``withdrawals``: withdrawing a participant's resting offers and orders when its participation ends;
* ``parameters``: the governed market parameters' one write path;
* ``capacity``, ``eligibility``, ``order_queries``: what the order path reads; ``arbitrage``: storage plans.
"""

from .arbitrage import arbitrage_plan
from .auctions import auction_clear, auction_open, auctions_clear_due, clearing_rerun
from .offers_bulk import OfferItem, offers_submit_many
from .orders import books_close_due, order_cancel, order_modify, order_submit
from .requests import offer_cancel, offer_submit, request_clear, request_submit
from .withdrawals import participation_withdraw

__all__ = [
    "OfferItem",
    "arbitrage_plan",
    "auction_clear",
    "auction_open",
    "auctions_clear_due",
    "books_close_due",
    "clearing_rerun",
    "offer_cancel",
    "offer_submit",
    "offers_submit_many",
    "order_cancel",
    "order_modify",
    "order_submit",
    "participation_withdraw",
    "request_clear",
    "request_submit",
]
