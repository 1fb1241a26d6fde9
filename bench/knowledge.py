"""Benchmark of the knowledge-base search on PostgreSQL (not a test: it prints figures).

Seeds a fresh database with N articles, each in German and English, and measures
`knowledge.selectors.search` (median of repeated runs) for a few typical queries: the
full-text search with its GIN index, the substring fallback (what SQLite runs) on the same
rows for comparison, and the suggestion fragment /help/suggest/ through the test client.

Usage: python bench/knowledge.py [--articles 1000 10000]
Database: BENCH_KNOWLEDGE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/helpdesk_bench_knowledge (dropped and created anew).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sweep import recreate_database  # noqa: E402 - bench/ is this script's folder

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_knowledge"
RUNS = 15
# Topic words (a few per article) among filler words (most of the text), so that a query
# matches a part of the articles, as in a real knowledge base.
TOPICS_EN = [
    "invoice", "payment", "password", "account", "order", "delivery", "checkout", "refund",
    "voucher", "printer", "scanner", "network", "login", "address", "card", "bank", "email",
    "warehouse", "shipping", "return", "contract", "update", "error",
]  # fmt: skip
TOPICS_DE = [
    "Rechnung", "Zahlung", "Passwort", "Konto", "Bestellung", "Lieferung", "Kasse", "Erstattung",
    "Gutschein", "Drucker", "Scanner", "Netzwerk", "Anmeldung", "Adresse", "Karte", "Bank",
    "E-Mail", "Lager", "Versand", "Rücksendung", "Vertrag",
]  # fmt: skip
FILLER = [f"wort{i}" for i in range(5000)]
QUERIES = [
    ("en", "invoice", False),
    ("de", "Rechnungen", False),
    ("de", "Passwort Konto", False),
    ("en", "I cannot pay my invoice with my card", True),
    ("en", "passw", False),
]


def text(rng: random.Random, topics: list[str], n: int) -> str:
    words = [rng.choice(FILLER) for _ in range(n)] + rng.sample(topics, 2)
    rng.shuffle(words)
    return " ".join(words)


def seed(count: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from knowledge.models import Article, ArticleTranslation

    rng = random.Random(count)
    owner, _ = get_user_model().objects.get_or_create(username="bench-owner")
    start = Article.objects.count()
    articles = Article.objects.bulk_create(
        [
            Article(
                slug=f"article-{i}",
                owner=owner,
                status="published",
                visibility="public" if i % 4 else "internal",
                last_reviewed_on=owner.date_joined.date(),
                review_due_on=owner.date_joined.date(),
            )
            for i in range(start, count)
        ],
        batch_size=2000,
    )
    rows = [
        ArticleTranslation(
            article=article,
            language=language,
            title=text(rng, topics, 2),
            summary=text(rng, topics, 10),
            body=text(rng, topics, 150),
        )
        for article in articles
        for language, topics in (("en", TOPICS_EN), ("de", TOPICS_DE))
    ]
    ArticleTranslation.objects.bulk_create(rows, batch_size=2000)
    ArticleTranslation.objects.filter(search_vector__isnull=True).refresh_search_vectors()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(count: int) -> None:
    from django.test import Client

    from knowledge import selectors
    from knowledge.models import Audience

    print(f"\n{count:,} articles ({2 * count:,} translations)")
    print(f"  {'query':<52} {'full text':>10} {'substring':>10}  hits")
    fulltext = selectors.uses_fulltext
    for language, query, any_word in QUERIES:

        def run(query=query, language=language, any_word=any_word):
            return selectors.search(
                query, language=language, audience=Audience.PUBLIC, any_word=any_word
            )

        hits = len(run())
        fast = median_ms(run)
        selectors.uses_fulltext = lambda: False
        try:
            slow = median_ms(run)
        finally:
            selectors.uses_fulltext = fulltext
        label = f"{language} {query!r}{' (any word)' if any_word else ''}"
        print(f"  {label:<52} {fast:>8.1f}ms {slow:>8.1f}ms  {hits}")
    client = Client()
    suggest = median_ms(lambda: client.get("/help/suggest/", {"q": "Ich habe meine Rechnung"}))
    print(f"  {'GET /help/suggest/ (up to 5 suggestions)':<52} {suggest:>8.1f}ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    url = os.environ.get("BENCH_KNOWLEDGE_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEMO", "true")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    for count in sorted(args.articles):
        seed(count)
        measure(count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
