"""Names: normalisation to A-labels and validation as host names, with their reject reasons."""

from __future__ import annotations

import pytest

from survey.input.names import normalise, validate
from survey.input.rejects import REJECT_REASONS


@pytest.mark.parametrize(
    ("text", "normalised", "reason"),
    [
        ("Example.COM", "example.com", None),
        ("  example.com.  ", "example.com", None),  # one trailing dot removed
        ("example.com..", "example.com.", "empty_label"),  # only one
        ("Bücher.de", "xn--bcher-kva.de", None),  # U-label → A-label
        ("ＥＸＡＭＰＬＥ．ｃｏｍ", "example.com", None),  # UTS46 maps fullwidth forms and dots
        ("faß.de", "xn--fa-hia.de", None),  # non-transitional: ß kept (IDNA2008)
        ("例え.テスト", "xn--r8jz45g.xn--zckzah", None),
        ("xn--bcher-kva.de", "xn--bcher-kva.de", None),  # A-labels pass as they are
        ("r3--sn-abc.googlevideo.com", "r3--sn-abc.googlevideo.com", None),  # ASCII: no IDNA
        ("a\u200d.com", "a\u200d.com", "idna_error"),  # ZWJ outside its CONTEXTJ rule
        ("", "", "empty"),
        ("com", "com", "single_label"),
        ("localhost", "localhost", "single_label"),
        ("a..com", "a..com", "empty_label"),
        (".example.com", ".example.com", "empty_label"),
        ("a" * 64 + ".com", "a" * 64 + ".com", "label_too_long"),
        ("a" * 63 + ".com", "a" * 63 + ".com", None),
        (".".join(["a" * 63] * 4), ".".join(["a" * 63] * 4), "name_too_long"),  # 255
        (".".join(["a" * 63] * 3 + ["a" * 61]), ".".join(["a" * 63] * 3 + ["a" * 61]), None),
        ("_dmarc.example.com", "_dmarc.example.com", "invalid_character"),  # underscore refused
        ("exa mple.com", "exa mple.com", "invalid_character"),
        ("*.example.com", "*.example.com", "invalid_character"),
        ("example.com,5", "example.com,5", "invalid_character"),
        ("-example.com", "-example.com", "invalid_hyphen"),
        ("example-.com", "example-.com", "invalid_hyphen"),
        ("192.0.2.1", "192.0.2.1", "ip_address"),
        ("2001:db8::1", "2001:db8::1", "ip_address"),
        ("[2001:DB8::1]", "[2001:db8::1]", "ip_address"),
        ("1.2.3", "1.2.3", "numeric_tld"),
        ("999.1.1.1", "999.1.1.1", "numeric_tld"),
        ("1.example.com", "1.example.com", None),
    ],
)
def test_normalise_and_validate(text: str, normalised: str, reason: str | None) -> None:
    assert normalise(text) == normalised
    assert validate(normalised) == reason
    assert reason is None or reason in REJECT_REASONS  # a documented code
