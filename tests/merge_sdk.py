"""Helpers for the tests that drive Relink with Merge's own Python SDK."""


def every_page(list_method, *, page_size: int, **params) -> list:
    """Every result of an SDK list call (e.g. `merge.hris.employees.list`), following the `next`
    cursor page by page as a Merge client does."""
    results, cursor = [], None
    while True:
        page = list_method(cursor=cursor, page_size=page_size, **params)
        results += page.results
        if not page.next:
            return results
        cursor = page.next
