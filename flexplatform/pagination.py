"""The one pagination of every list endpoint (``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``)."""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=``: 100 items a page by default (``PAGE_SIZE``), at most 1,000; the answer is
    ``{"count", "next", "previous", "results"}``."""

    max_limit = 1000
