"""The shared text helpers: sentences, number words, stopwords, stems and medicine names."""

from __future__ import annotations

import pytest

from assistant.text import (
    NUMBER_WORDS,
    STOPWORDS,
    medicine_names,
    medicines_in,
    number_words,
    sentences,
    snowball_stem,
    stem,
    words_to_number,
    written_sentences,
)


def test_spoken_sentences_do_not_break_inside_amounts_or_addresses() -> None:
    assert sentences("I owe £1,386.40 now. Email leanne.hart@example.co.uk please! Really?") == [
        "I owe £1,386.40 now.", "Email leanne.hart@example.co.uk please!", "Really?"]
    # Lower-cased dialogue (ACI-Bench) still splits, and closing quotes stay with their sentence.
    assert sentences('hi , brian . how are you ? he said "no." then left') == [
        "hi , brian .", "how are you ?", 'he said "no."', "then left"]
    assert sentences("  ") == []


def test_written_sentences_keep_abbreviations_whole() -> None:
    assert written_sentences("Imp: ?UTI. also need to exclude pregnancy. Plan: MSU. 3 days of trimethoprim.") == [
        "Imp: ?UTI. also need to exclude pregnancy.", "Plan: MSU.", "3 days of trimethoprim."]
    assert written_sentences('Cough. "Worse at night". • Review.') == ["Cough.", '"Worse at night".', "• Review."]
    assert written_sentences("no capital. no split") == ["no capital. no split"]


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (13, "thirteen"), (70, "seventy"), (105, "one hundred five"), (1500, "one thousand five hundred"),
    (2_000_019, "two million nineteen"), (987_654_321_012, "nine hundred eighty seven billion six hundred fifty four "
                                                          "million three hundred twenty one thousand twelve"),
])
def test_number_words_are_plain_words(n: int, words: str) -> None:
    assert number_words(n) == words


def test_words_to_number_reads_what_number_words_writes() -> None:
    for n in (1, 19, 20, 70, 88, 99, 100, 101, 999, 1000, 1386, 9090, 99_999):
        assert words_to_number(number_words(n)) == n
    assert words_to_number("one thousand three hundred and eighty-six pounds") == 1386
    assert words_to_number("a hundred quid") == 100
    assert words_to_number("ninety pounds") == 90
    assert words_to_number("no number here") is None
    assert {"seventy", "eighty", "ninety", "thousand"} <= NUMBER_WORDS.keys()


def test_stopwords_hold_function_words_and_reporting_verbs_not_content() -> None:
    assert {"the", "and", "she's", "said", "reported", "yeah", "mrs"} <= STOPWORDS
    assert not {"rent", "arrears", "school", "pain", "knife"} & STOPWORDS


@pytest.mark.parametrize(("word", "root"), [
    ("Leanne's", "leanne"), ("worries", "worry"), ("visiting", "visit"), ("visited", "visit"), ("visits", "visit"),
    ("boxes", "box"), ("quickly", "quick"), ("is", "is"), ("sing", "sing"), ("bed", "bed"),
])
def test_stem_is_light_and_leaves_short_words(word: str, root: str) -> None:
    assert stem(word) == root


def test_medicines_come_from_the_lexicon_and_match_whole_names() -> None:
    names = medicine_names()
    assert {"amoxicillin", "sodium valproate", "co-codamol"} <= set(names)
    assert medicines_in("Started Sodium Valproate; stopped co-codamol and AMOXICILLIN.") == {
        "sodium valproate", "co-codamol", "amoxicillin"}
    assert medicines_in("The amoxicillinase test and paracetamol-free tablets") == set()


def test_snowball_stem_is_porter2() -> None:
    assert [snowball_stem(w) for w in ("arrears", "visiting", "generously", "worries")] == [
        "arrear", "visit", "generous", "worri"]
