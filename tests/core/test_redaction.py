import pytest

from autotrace.redaction import redact_url, scrub, url_secrets


@pytest.mark.parametrize("url,expected", [
    ("https://bob:hunter2@api.example.com/p?q=1", "https://REDACTED:REDACTED@api.example.com/p?q=1"),
    ("https://token@api.example.com/", "https://REDACTED@api.example.com/"),
    ("http://h/x?token=abc&page=2", "http://h/x?token=REDACTED&page=2"),
    ("http://h/x?X-Amz-Signature=abc&X-Amz-Date=1", "http://h/x?X-Amz-Signature=REDACTED&X-Amz-Date=1"),
    ("http://h/x?API_KEY=1&apikey=2&key=3&sig=4&code=5", "http://h/x?API_KEY=REDACTED&apikey=REDACTED&key=REDACTED&sig=REDACTED&code=REDACTED"),
    ("http://h/x?access%5Ftoken=abc", "http://h/x?access%5Ftoken=REDACTED"),
    ("http://h/x?monkey=1", "http://h/x?monkey=1"),
    ("http://h/x", "http://h/x"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_extra_params():
    assert redact_url("http://h/?session=s1&a=1", frozenset({"Session"})) == "http://h/?session=REDACTED&a=1"


def test_unparseable_urls_never_raise():
    assert redact_url("http://[::1/x?token=abc") in ("http:///", "REDACTED")
    assert "abc" not in redact_url("http://[::1/x?token=abc")


def test_secrets_are_scrubbed_from_text():
    url = "https://u:pw12345@h/p?token=tok-9876&x=1"
    secrets = url_secrets(url)
    assert set(secrets) == {"pw12345", "tok-9876"}
    text = "Max retries exceeded with url: /p?token=tok-9876 (user pw12345)"
    assert scrub(text, secrets) == "Max retries exceeded with url: /p?token=REDACTED (user REDACTED)"
