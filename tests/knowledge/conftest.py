"""Fixtures of the knowledge tests: a small knowledge base in German and English."""

from __future__ import annotations

import pytest
from django.test import Client

from knowledge.models import Article, Category
from tests.knowledge.articles import make_article


@pytest.fixture
def agent_client(client, agent, team_a) -> Client:
    client.force_login(agent)
    return client


@pytest.fixture
def billing(db) -> Category:
    return Category.objects.create(name="Billing", name_de="Abrechnung", slug="billing")


@pytest.fixture
def kb(db, agent, billing) -> dict[str, Article]:
    """Public, internal and draft articles; the invoice article in both languages."""
    return {
        "invoice": make_article(
            "invoice-questions",
            owner=agent,
            category=billing,
            en=("Questions about your invoice", "Where to find an invoice and how to correct it."),
            de=("Fragen zur Rechnung", "Wo Sie eine Rechnung finden und wie Sie sie berichtigen."),
        ),
        "password": make_article(
            "password-reset",
            owner=agent,
            en=("Reset your password", "Use the link *Forgot password* on the sign-in page."),
            de=("Passwort zurücksetzen", "Nutzen Sie den Link *Passwort vergessen*."),
        ),
        "internal": make_article(
            "invoice-credit-notes",
            owner=agent,
            visibility=Article.Visibility.INTERNAL,
            en=("Issuing a credit note for an invoice", "Internal: credit notes in the ERP."),
            de=("Gutschrift zu einer Rechnung ausstellen", "Intern: Gutschriften im ERP."),
        ),
        "draft": make_article(
            "invoice-address-change",
            owner=agent,
            status=Article.Status.DRAFT,
            en=("Changing the address on an invoice", "Draft: not ready."),
            de=("Rechnungsadresse ändern", "Entwurf."),
        ),
    }
