"""The sandbox provider's ATS candidates and CRM contacts: deterministic, the same for every key
and every run (employees live beside the server in `sandbox_provider.py`). Their shapes are
the sandbox's own, not Merge's, so the integrations' mapping is exercised for real."""

CANDIDATE_COUNT = 200
CONTACT_COUNT = 200

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]
_COMPANIES = ["Initech", "Globex", "Umbrella", "Hooli", "Vandelay Industries", "Wonka"]
_TITLES = ["Engineer", "Designer", "Recruiter", "Analyst", "Product Manager"]
_CITIES = [("Lisbon", "", "PT"), ("Austin", "TX", "US"), ("Berlin", "", "DE"), ("Toronto", "ON", "CA")]


def _name(index: int) -> tuple[str, str]:
    return _FIRST[index % len(_FIRST)], _LAST[(index // len(_FIRST)) % len(_LAST)]


def candidate(index: int) -> dict:
    """Candidate number `index` (1-based)."""
    first, last = _name(index)
    city = _CITIES[index % len(_CITIES)]
    return {
        "id": f"cand_{index:04d}",
        "first_name": first,
        "last_name": last,
        "company": _COMPANIES[index % len(_COMPANIES)],
        "title": _TITLES[index % len(_TITLES)],
        "emails": [
            {"address": f"{first.lower()}.{last.lower()}.{index}@mail.example", "kind": "personal"},
            {"address": f"{first.lower()}{index}@work.example", "kind": "work"},
        ],
        "phones": [{"number": f"+1-555-{index:04d}", "kind": "mobile"}],
        "links": [{"url": f"https://portfolio.example/{first.lower()}{index}", "kind": "portfolio"}],
        "tags": ["referral"] if index % 3 == 0 else [],
        "location": city[0],
        "private": index % 25 == 0,
        "can_email": index % 10 != 0,
        "created_at": "2024-03-01T09:00:00Z",
        "updated_at": f"2025-02-{1 + index % 28:02d}T10:00:00Z",
        "last_activity_at": f"2025-03-{1 + index % 28:02d}T15:30:00Z",
    }


def contact(index: int) -> dict:
    """Contact number `index` (1-based)."""
    first, last = _name(index)
    city, state, country = _CITIES[index % len(_CITIES)]
    return {
        "id": f"con_{index:04d}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}.{index}@customer.example",
        "phone": f"+1-555-{1000 + index:04d}",
        "mobile": f"+1-555-{5000 + index:04d}" if index % 2 else None,
        "address": {
            "street": f"{index} Market Street",
            "city": city,
            "state": state,
            "zip": f"{10000 + index}",
            "country": country,
        },
        "created_at": "2024-05-01T08:00:00Z",
        "last_activity_at": f"2025-04-{1 + index % 28:02d}T11:00:00Z",
    }


CANDIDATES = [candidate(i) for i in range(1, CANDIDATE_COUNT + 1)]
CONTACTS = [contact(i) for i in range(1, CONTACT_COUNT + 1)]
