"""Our own cost per record for the real-provider integrations: fetching (JSON parsing, paging,
request logging) and mapping 10,000 employees, with the provider answered at the httpx
boundary (respx) so that only Relink's side is timed, not a network."""

import json
import time

import httpx
import respx

from syncs import integrations

EMPLOYEES = 10_000
TARGET_PER_SECOND = 20_000  # records/s: far below this, mapping would show in sync throughput


def _bamboohr_pages() -> list[bytes]:
    url = "https://api.bamboohr.com/api/gateway.php/acme/v1/employees"
    pages = []
    for start in range(0, EMPLOYEES, 100):
        records = [
            {
                "employeeId": str(n),
                "firstName": f"First{n}",
                "lastName": f"Last{n}",
                "preferredName": None,
                "photoUrl": f"https://images.bamboohr.com/{n}.jpg",
                "jobTitleName": "Engineer",
                "status": "Active" if n % 7 else "Inactive",
                "_restrictedFields": [],
                "displayName": f"First{n} Last{n}",
                "employeeNumber": str(n),
                "workEmail": f"p{n}@acme.example",
                "homeEmail": None,
                "mobilePhone": "801-555-0100",
                "hireDate": "2019-03-11",
                "terminationDate": None if n % 7 else "2024-01-31",
            }
            for n in range(start, start + 100)
        ]
        nxt = f"c{start + 100}" if start + 100 < EMPLOYEES else None
        body = {"data": records, "meta": {"total": EMPLOYEES, "page": {"limit": 100, "nextCursor": nxt}}}
        body["_links"] = {"self": url}
        pages.append(json.dumps(body).encode())
    return pages


def _bob_people() -> list[dict]:
    return [
        {
            "id": str(3332883884017700000 + n),
            "firstName": f"First{n}",
            "surname": f"Last{n}",
            "displayName": f"First{n} Last{n}",
            "email": f"p{n}@acme.example",
            "creationDate": "2021-02-01",
            "work": {"employeeIdInCompany": n, "startDate": "2021-03-01"},
            "home": {"privateEmail": None, "mobilePhone": "+44 7700 900123"},
            "internal": {"status": "Active", "lifecycleStatus": "employed", "terminationDate": None},
            "humanReadable": {"internal": {"status": "Active", "lifecycleStatus": "Employed"}},
        }
        for n in range(EMPLOYEES)
    ]


def _run_integration(report, slug: str, credentials: dict, *, calls: str, note: str = "") -> None:
    """Fetches and maps every employee through the integration (its provider mocked) and reports
    records per second; `calls` names the provider requests (pages, requests)."""
    integration = integrations.get(slug)
    session = integration.session(credentials)
    started = time.perf_counter()
    count = 0
    for page in integration.fetch_pages(credentials, session, "hris.Employee"):
        for raw in page:
            integration.map_record("hris.Employee", raw)
            count += 1
    report.throughput(
        f"syncs_providers {slug} fetch+map",
        size=f"{count} employees, {len(session.log)} {calls}",
        count=count,
        seconds=time.perf_counter() - started,
        target=f">= {TARGET_PER_SECOND} records/s",
        ok=lambda row: count == EMPLOYEES and (row.per_second or 0) >= TARGET_PER_SECOND,
        note=note,
    )


def run(report) -> None:
    pages = _bamboohr_pages()
    with respx.mock() as mock:
        mock.get("https://api.bamboohr.com/api/gateway.php/acme/v1/employees").mock(
            side_effect=[
                httpx.Response(200, content=p, headers={"Content-Type": "application/json"}) for p in pages
            ]
        )
        _run_integration(report, "bamboohr", {"company_domain": "acme", "api_key": "k"}, calls="pages")

    people = _bob_people()
    by_id = {p["id"]: p for p in people}
    listing = json.dumps({"employees": [{"id": p["id"]} for p in people]}).encode()

    def bob(request):
        body = json.loads(request.content)
        if body.get("fields") == ["root.id"]:
            return httpx.Response(200, content=listing, headers={"Content-Type": "application/json"})
        wanted = body["filters"][0]["values"]
        return httpx.Response(200, json={"employees": [by_id[i] for i in wanted]})

    with respx.mock() as mock:
        mock.post("https://api.hibob.com/v1/people/search").mock(side_effect=bob)
        _run_integration(
            report,
            "hibob",
            {"service_user_id": "SERVICE-1", "token": "t"},
            calls="requests",
            note="includes building the fake answers for each batch",
        )
