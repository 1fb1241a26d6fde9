"""Celery tasks of the rule lab: thin wrappers around `lab.backtest`."""

from __future__ import annotations

from celery import shared_task

from lab import backtest


@shared_task(acks_late=True, ignore_result=True)
def run_backtest(run_id: int) -> None:
    """Replay a queued backtest run (progress and result on its row)."""
    backtest.execute(run_id)
