"""The drill's request mix: which API reads the client sends, how often each, and the path of
each for a given linked account. Kept apart so that a profile of one server process
(scripts/load.py's numbers) and the drill send the same traffic."""

# (kind, weight): the share of each read in the drill's traffic.
MIX = [
    ("account-details", 25),
    ("employees", 25),
    ("linked-accounts", 20),
    ("sync-status", 15),
    ("issues", 10),
    ("employee", 5),
]
NAMES = [name for name, _ in MIX]
WEIGHTS = [weight for _, weight in MIX]
RESYNC_PATH = "/api/hris/v1/sync-status/resync"


def request_path(kind: str, employee_id: str) -> str:
    """The path of a read of `kind`; `employee_id` is one employee of the account (for "employee")."""
    return {
        "account-details": "/api/hris/v1/account-details",
        "employees": "/api/hris/v1/employees?page_size=50",
        "linked-accounts": "/api/hris/v1/linked-accounts?page_size=50",
        "sync-status": "/api/hris/v1/sync-status",
        "issues": "/api/hris/v1/issues?page_size=50",
        "employee": f"/api/hris/v1/employees/{employee_id}",
    }[kind]


def request_headers(key: str, account_token: str) -> dict[str, str]:
    """The headers of a request made with API key `key` for the account of `account_token`."""
    return {"Authorization": f"Bearer {key}", "X-Account-Token": account_token}
