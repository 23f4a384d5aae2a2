"""The grounding check: formatting tolerance, invented numbers caught, and the offline note always grounded."""

from __future__ import annotations

import datetime as dt

import pytest

from featurekit import FeatureStore
from featurekit.llm.grounding import Facts, GroundingReport, check, check_facts, correction
from tests.conftest import AS_OF

FACTS = Facts.build(
    [
        ("v.total_spend", 412.5),
        ("v.big", 12345.6),
        ("v.refund_rate", 0.14),
        ("v.share_pct", 37.5),
        ("v.order_count", 3),
        ("v.spend_change", -12.5),
        ("v.last_order", dt.date(2026, 6, 10)),
        ("v.top_category", "books"),
        ("prompt.entity_id", "C00042"),
        ("prompt.as_of", dt.date(2026, 6, 30)),
        ("v.lookback_days (parameter)", 90),
    ]
)


def report(text: str) -> GroundingReport:
    return check_facts(text, FACTS)


@pytest.mark.parametrize(
    ("written", "source"),
    [
        ("412.5", "v.total_spend"),
        ("$412.50", "v.total_spend"),
        ("412.50", "v.total_spend"),
        ("US$412.50", "v.total_spend"),
        ("$412", "v.total_spend"),  # rounded to the precision written
        ("12,345.60", "v.big"),
        ("$12,346", "v.big"),
        ("$12.3k", "v.big"),
        ("14%", "v.refund_rate"),
        ("14.0%", "v.refund_rate"),
        ("14 percent", "v.refund_rate"),
        ("0.14", "v.refund_rate"),
        ("37.5%", "v.share_pct"),  # already in percent
        ("-12.5", "v.spend_change"),
        ("$12.50", "v.spend_change"),  # "a drop of $12.50"
        ("2026-06-10", "v.last_order"),
        ("June 10", "v.last_order"),
        ("Jun 10, 2026", "v.last_order"),
        ("10 June", "v.last_order"),
        ("June 10th", "v.last_order"),
        ("10th of June 2026", "v.last_order"),
        ("Jun. 10", "v.last_order"),
        ("2026", "v.last_order (year)"),
        ("three", "v.order_count"),
        ("C00042", "prompt.entity_id"),
        ("90", "v.lookback_days (parameter)"),
        ("June 30", "prompt.as_of"),
    ],
)
def test_formats_that_match_a_fact(written: str, source: str) -> None:
    found = report(f"The figure was {written} in total.")
    assert found.ok, found.lines()
    [mention] = found.grounded
    assert mention.text == written
    assert mention.source == source


@pytest.mark.parametrize(
    "written",
    ["$415", "414", "15%", "0.2", "4", "June 11", "2025-06-10", "Jun 10, 2025", "C00043", "12,345", "-14", "$13k"],
)
def test_numbers_that_match_no_fact(written: str) -> None:
    found = report(f"The figure was {written} in total.")
    assert not found.ok
    assert found.ungrounded_texts == (written,)


def test_number_words_are_not_flagged_when_they_match_nothing() -> None:
    found = report("Write one short note with two sentences about three orders.")
    assert found.ok
    assert [(m.text, m.source) for m in found.grounded] == [("three", "v.order_count")]


def test_words_around_numbers_are_not_numbers() -> None:
    found = report("Over a 90-day window (to 2026-06-30) C00042 placed 3 orders: books, mostly.")
    assert found.ok
    assert [m.text for m in found.grounded] == ["90", "2026-06-30", "C00042", "3"]


def test_a_mixed_note_lists_both_sides() -> None:
    found = report("Customer C00042 spent $412.50 on 7 orders, 14% refunded, last on June 11.")
    assert [m.text for m in found.grounded] == ["C00042", "$412.50", "14%"]
    assert found.ungrounded_texts == ("7", "June 11")
    assert "NOT grounded: 2 of 5" in found.summary()
    assert found.to_dict()["ungrounded"][0] == {
        "text": "7",
        "kind": "number",
        "position": 33,
        "source": None,
        "fact": None,
    }
    assert "7, June 11" in correction(found)


def test_check_uses_the_prompts_features_and_parameters(store: FeatureStore) -> None:
    prompt = store.prompt("retention_note", "C00042", as_of=AS_OF, params={"lookback_days": 45})
    spend = prompt.features["customer_orders"]["total_spend"]
    good = check(f"C00042 spent ${spend:,.2f} in the 45 days to {AS_OF:%B} {AS_OF.day}.", prompt)
    assert good.ok, good.lines()
    assert check("C00042 spent money in the 90 days.", prompt).ungrounded_texts == ("90",)


@pytest.mark.parametrize(("as_of", "lookback"), [(AS_OF, 90), (dt.date(2026, 5, 15), 7), (dt.date(2026, 1, 3), 365)])
def test_offline_note_is_grounded_for_every_customer(store: FeatureStore, as_of: dt.date, lookback: int) -> None:
    ids = [f"C{i:05d}" for i in range(1, 61)]
    # Warm the cache with one query per combination; each note then renders from cached rows.
    store.get("customer_orders", ids, as_of=as_of, params={"lookback_days": lookback})
    for entity_id in ids:
        note = store.note("retention_note", entity_id, as_of=as_of, params={"lookback_days": lookback})
        assert note.grounding is not None
        assert note.grounding.ok, (note.text, note.grounding.lines())
        assert len(note.grounding.grounded) >= 3
