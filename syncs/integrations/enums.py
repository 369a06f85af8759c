"""Provider words for Merge's Employee enums (gender, marital status, ethnicity), shared by the
integrations: each maps what its provider says through these, and anything not listed is null
(Merge's enum fields take only their own values)."""

from typing import Any

GENDER = {
    "male": "MALE",
    "m": "MALE",
    "female": "FEMALE",
    "f": "FEMALE",
    "non-binary": "NON-BINARY",
    "nonbinary": "NON-BINARY",
    "non binary": "NON-BINARY",
    "other": "OTHER",
    "prefer not to say": "PREFER_NOT_TO_DISCLOSE",
    "prefer not to disclose": "PREFER_NOT_TO_DISCLOSE",
    "decline to state": "PREFER_NOT_TO_DISCLOSE",
}
MARITAL_STATUS = {
    "single": "SINGLE",
    "married": "MARRIED_FILING_JOINTLY",
    "married filing jointly": "MARRIED_FILING_JOINTLY",
    "married filing separately": "MARRIED_FILING_SEPARATELY",
    "head of household": "HEAD_OF_HOUSEHOLD",
    "qualifying widow(er)": "QUALIFYING_WIDOW_OR_WIDOWER_WITH_DEPENDENT_CHILD",
}
ETHNICITY = {
    "american indian or alaska native": "AMERICAN_INDIAN_OR_ALASKA_NATIVE",
    "asian": "ASIAN_OR_INDIAN_SUBCONTINENT",
    "black or african american": "BLACK_OR_AFRICAN_AMERICAN",
    "hispanic or latino": "HISPANIC_OR_LATINO",
    "native hawaiian or other pacific islander": "NATIVE_HAWAIIAN_OR_OTHER_PACIFIC_ISLANDER",
    "two or more races": "TWO_OR_MORE_RACES",
    "white": "WHITE",
    "decline to state": "PREFER_NOT_TO_DISCLOSE",
    "prefer not to say": "PREFER_NOT_TO_DISCLOSE",
}


def enum_value(table: dict[str, str], raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    return table.get(raw.strip().lower())
