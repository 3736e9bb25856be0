"""Sizes in the reader's language (issue 21, point 14): CLDR's units and decimal separator."""
from jhub_admin_service.service.base import fmt_bytes


def test_sizes_in_french_have_octets_a_decimal_comma_and_a_narrow_space():
    assert fmt_bytes(1.5 * 1024 ** 3, "fr") == "1,5\u202fGo"
    assert fmt_bytes(512 * 1024 ** 2, "fr") == "512\u202fMo"
    assert fmt_bytes(3 * 1024, "fr") == "3\u202fko"
    assert fmt_bytes(12, "fr") == "12\u202fo"
    assert fmt_bytes(2.5 * 1024 ** 5, "fr") == "2\u202f560\u202fTo"


def test_sizes_in_english_and_nothing_known():
    assert fmt_bytes(1.5 * 1024 ** 3, "en") == "1.5 GB"
    assert fmt_bytes(3 * 1024) == "3 kB"
    assert fmt_bytes(1023, "en") == "1,023 B"
    assert fmt_bytes(None, "fr") == "—"
