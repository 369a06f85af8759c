"""The API request path's hand-written fast parts give what the library path gives: the row
reader the ORM's instance, the C timestamp loader Django's values, the cached query validation
the serializer's answer, and the orjson renderer DRF's bytes."""

import datetime

import pytest
from django.db import connection
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from accounts.models import LinkedAccount
from accounts.query_params import query_validate
from accounts.row_reader import RowReader
from config.renderers import ApiJSONRenderer

FIELDS = [f.attname for f in LinkedAccount._meta.concrete_fields]


@pytest.mark.django_db
def test_row_reader_gives_the_orm_instance(owner):
    account, _ = owner.linked_account()
    read = RowReader(LinkedAccount).first(account_token_hash=account.account_token_hash)
    orm = LinkedAccount.objects.get(pk=account.pk)
    assert [getattr(read, f) for f in FIELDS] == [getattr(orm, f) for f in FIELDS]
    assert read._state.adding is False and read._state.db == "default"
    assert RowReader(LinkedAccount).first(account_token_hash="0" * 64) is None


@pytest.mark.django_db
def test_timestamps_are_aware_utc_as_django_reads_them(owner):
    account, _ = owner.linked_account()
    value = LinkedAccount.objects.values_list("created_at", flat=True).get(pk=account.pk)
    assert value.tzinfo is datetime.UTC
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT '2024-01-01 10:00:00.123+05'::timestamptz")
            assert cursor.fetchone()[0] == datetime.datetime(2024, 1, 1, 5, 0, 0, 123000, tzinfo=datetime.UTC)


class _Params(serializers.Serializer):
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)
    status = serializers.ChoiceField(choices=["A", "B"], required=False)


def test_cached_query_validation_answers_as_the_serializer():
    from django.http import QueryDict

    assert query_validate(_Params, QueryDict("page_size=5&status=A")) == {"page_size": 5, "status": "A"}
    with pytest.raises(serializers.ValidationError) as raised:
        query_validate(_Params, QueryDict("page_size=0"))
    expected = _Params(data={"page_size": "0"})
    assert not expected.is_valid()
    assert raised.value.detail == expected.errors
    with pytest.raises(serializers.ValidationError) as raised:
        query_validate(_Params, QueryDict("nope=1"))
    assert "nope" in raised.value.detail


@pytest.mark.parametrize(
    "data",
    [
        {"a": [1, None, True, "é \u2028 \u2029 \x00 😀"], "b": {"c": []}},
        [datetime.datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=datetime.UTC), datetime.date(2024, 1, 2)],
        {1: "an integer key"},
        {"big": 2**70},
    ],
)
def test_the_orjson_renderer_writes_drfs_bytes(data):
    assert ApiJSONRenderer().render(data, "application/json", {}) == JSONRenderer().render(
        data, "application/json", {}
    )
