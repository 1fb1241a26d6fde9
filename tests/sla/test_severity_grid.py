"""The severity matrix in the admin: a real impact × urgency table of priority selects with
labels, and a missing or invalid cell is a form error, not a 500."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sla.models import SeverityMatrix
from tickets.priority import Impact, Priority, Urgency

pytestmark = pytest.mark.django_db


@pytest.fixture
def matrix():
    return SeverityMatrix.objects.get(is_active=True)


def grid_post(matrix: SeverityMatrix) -> dict:
    data = {"name": matrix.name, "is_active": "on"}
    for i in Impact.values:
        for u in Urgency.values:
            data[f"cell_{i}_{u}"] = str(matrix.grid[SeverityMatrix.key(i, u)])
    return data


def test_the_matrix_is_a_table_of_impact_rows_and_urgency_columns(admin_client, matrix):
    body = admin_client.get(
        reverse("admin:sla_severitymatrix_change", args=[matrix.pk])
    ).content.decode()
    table = body[body.index('class="module severity-grid"') :]
    table = table[: table.index("</table>")]
    headers = re.findall(r'<th scope="col">([^<]*)</th>', table)
    assert headers[1:] == [str(u.label) for u in Urgency]
    rows = re.findall(r'<th scope="row">([^<]*)</th>', table)
    assert rows == [str(i.label) for i in Impact]
    # One select per cell, its options the priorities' labels, the stored one selected.
    assert table.count("<select") == len(Impact) * len(Urgency)
    cell = table[table.index('name="cell_1_1"') :]
    cell = cell[: cell.index("</select>")]
    for priority in Priority:
        assert str(priority.label) in cell
    first = matrix.grid[SeverityMatrix.key(1, 1)]
    assert f'<option value="{first}" selected>{Priority(first).label}</option>' in cell
    assert 'name="cell_' not in body.replace(table, "")  # no second copy of the cells


def test_the_list_shows_the_grid_with_labels(admin_client, matrix):
    body = admin_client.get(reverse("admin:sla_severitymatrix_changelist")).content.decode()
    assert f"<div>{Impact(1).label}: {Priority(matrix.grid['1,1']).label} · " in body


@pytest.mark.parametrize("value", [None, "", "9", "x"])
def test_a_missing_or_invalid_cell_is_a_form_error(admin_client, matrix, value):
    data = grid_post(matrix)
    if value is None:
        del data["cell_2_3"]
    else:
        data["cell_2_3"] = value
    response = admin_client.post(reverse("admin:sla_severitymatrix_change", args=[matrix.pk]), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert "errornote" in response.content.decode()
    matrix.refresh_from_db()
    assert matrix.grid == SeverityMatrix.objects.get(pk=matrix.pk).grid


def test_a_saved_cell_changes_the_grid(admin_client, matrix):
    data = grid_post(matrix)
    data["cell_4_4"] = "2"
    response = admin_client.post(reverse("admin:sla_severitymatrix_change", args=[matrix.pk]), data)
    assert response.status_code == 302
    matrix.refresh_from_db()
    assert matrix.grid["4,4"] == 2


def test_a_view_only_user_sees_the_grid_read_only(client, matrix):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_severitymatrix"))
    client.force_login(user)
    response = client.get(reverse("admin:sla_severitymatrix_change", args=[matrix.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<select") == len(Impact) * len(Urgency)
    assert body.count(" disabled") >= len(Impact) * len(Urgency)
