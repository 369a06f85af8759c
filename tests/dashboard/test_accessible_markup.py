"""The accessibility fixes that show in the HTML itself, checked without a browser (the browser
tests in tests/e2e/test_accessibility_*.py run axe-core on the rendered pages)."""

import re
import uuid

from django.test import Client

from tests.linking.helpers import create_link_token

from .conftest import operator_client
from .seed import seed


def test_settings_help_text_is_rendered_where_the_input_points(owner, db):
    html = (
        operator_client(username="sam", organizations=[owner.organization]).get("/settings").content.decode()
    )
    described_by = re.search(r'name="relink_reminder_days"[^>]*aria-describedby="([^"]+)"', html).group(1)
    assert re.search(rf'id="{described_by}"[^>]*>Days between reminders; empty: no reminders.<', html)


def test_a_wrong_password_is_an_alert_tied_to_both_inputs(owner, db):
    username = f"lou-{uuid.uuid4().hex[:8]}"  # failures count against the username in Redis
    operator_client(username=username, organizations=[owner.organization])
    html = Client().post("/login", {"username": username, "password": "wrong"}).content.decode()
    assert re.search(r'role="alert" id="login-error">Your username and password didn\'t match', html)
    for name in ("username", "password"):
        field = re.search(rf'<input [^>]*name="{name}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in field and 'aria-describedby="login-error"' in field


def test_home_chart_numbers_are_a_table_of_every_day(owner, db):
    seed(owner, 4)
    html = operator_client(username="cat", organizations=[owner.organization]).get("/").content.decode()
    table = html[html.index('<table id="chart-numbers">') : html.index("</table>")]
    assert table.count('<th scope="row">') == 30
    # Today's row (first) ends with the total of the production accounts the tiles count.
    total = re.search(r'<span class="n">(\d+)</span>Linked accounts', html).group(1)
    body = table.index("<tbody>")
    first_row = table[body : table.index("</tr>", body)]
    assert re.findall(r'<td class="num">(\d+)</td>', first_row)[-1] == total


def test_scrolling_tables_are_labelled_focusable_regions(owner, db):
    seed(owner, 2)
    html = (
        operator_client(username="tab", organizations=[owner.organization]).get("/billing").content.decode()
    )
    assert (
        '<div class="table-wrap" role="region" aria-label="Billable days per account" tabindex="0">' in html
    )


def test_link_page_keeps_same_origin_referrers_only(owner, db):
    html = Client().get(f"/link/{create_link_token(owner)['link_token']}").content.decode()
    assert '<meta name="referrer" content="same-origin">' in html
    assert "no-referrer" not in html
