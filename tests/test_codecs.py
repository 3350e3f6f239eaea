"""Codecs round-trip exactly and refuse what they cannot represent."""

from __future__ import annotations

import json

import pytest

from rotator.codecs import ConnectionUrl, JsonDocument, KeyEncoding, detect_key_encoding
from rotator.errors import SecretFormatError

HARD_PASSWORDS = ["p@ss:w/rd?#%", "ünïcødé-パスワード", "with space", "50%25off", "a+b=c&d", "x\"'`$"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://amply_app:pw@db.host:5432/amply?sslmode=require",
        "postgresql://app:p%40ss@db.host/app?sslmode=verify-full&sslrootcert=/opt/ca.pem&application_name=api",
        "postgres://app:pw@[::1]:5432/app",
        "postgresql+psycopg://app:pw@db.host:05432/app?options=-c%20search_path%3Dx#frag",
        "redis://:pw@cache.host:6379/0",
        "rediss://app:pw@cache.host",
        "redis://cache.host:6379",
    ],
)
def test_url_round_trip_is_exact(url: str) -> None:
    assert ConnectionUrl.parse(url).render() == url


@pytest.mark.parametrize("password", HARD_PASSWORDS)
def test_url_password_change_keeps_every_other_byte(password: str) -> None:
    url = "postgresql+asyncpg://amply_app:old@db.host:5432/amply?sslmode=require&x=1#f"
    rotated = ConnectionUrl.parse(url).with_credentials(password=password).render()
    parsed = ConnectionUrl.parse(rotated)
    assert parsed.password == password
    assert parsed.username == "amply_app"
    assert rotated.startswith("postgresql+asyncpg://amply_app:")
    assert rotated.endswith("@db.host:5432/amply?sslmode=require&x=1#f")


def test_url_user_change_and_fields() -> None:
    url = ConnectionUrl.parse("postgresql+asyncpg://app:pw@db.host:5432/amply?sslmode=require&sslmode=verify-full")
    assert url.base_scheme == "postgresql"
    assert url.host == "db.host"
    assert url.port == 5432
    assert url.path == "/amply"
    assert url.query_value("sslmode") == "verify-full"
    assert url.query_value("missing") is None
    swapped = url.with_credentials(username="app_clone", password="new")
    assert (
        swapped.render() == "postgresql+asyncpg://app_clone:new@db.host:5432/amply?sslmode=require&sslmode=verify-full"
    )


def test_url_without_userinfo_gains_one() -> None:
    assert ConnectionUrl.parse("redis://h:1").with_credentials(password="pw").render() == "redis://:pw@h:1"


def test_url_repr_hides_password() -> None:
    url = ConnectionUrl.parse("postgresql://app:hunter2hunter2@db/app")
    assert "hunter2hunter2" not in repr(url)


@pytest.mark.parametrize(
    "bad",
    [
        "not a url",
        "postgresql://app:pw@/db",
        "postgresql://app:pw@host:99999/db",
        "postgresql://app:pw@host:5432/db\n",
        "postgresql://app:pw@ho st/db",
        "postgresql://app:%ff%fe@host/db",
        "postgresql://" + "a" * 9000 + "@host/db",
        "postgresql://app:pw@host:port/db",
    ],
)
def test_url_refuses_malformed_without_echoing_it(bad: str) -> None:
    with pytest.raises(SecretFormatError) as excinfo:
        ConnectionUrl.parse(bad)
    assert "pw" not in str(excinfo.value).replace("password", "")


@pytest.mark.parametrize(
    "text",
    [
        '{"current": "k", "previous": []}',
        '{"current":"k","previous":[]}',
        '{\n  "current": "k",\n  "previous": [\n    "o"\n  ]\n}',
        '{\n    "a": 1,\n    "b": {\n        "c": null\n    }\n}',
        '{"name": "ünï", "n": 1.5, "t": true}',
        '{"name": "\\u00fcn\\u00ef"}',
        '  {"padded": "yes"}\n',
    ],
)
def test_json_round_trip_is_exact(text: str) -> None:
    assert JsonDocument.parse(text).render() == text


def test_json_unusual_layout_keeps_the_data() -> None:
    text = '{ "a" :1,\n"b":[1,\n2] }'
    rendered = JsonDocument.parse(text).replace(a=2).render()
    assert json.loads(rendered) == {"a": 2, "b": [1, 2]}


def test_json_replace_keeps_order_and_other_fields() -> None:
    doc = JsonDocument.parse('{"engine": "postgres", "password": "old", "host": "h", "extra": [1, 2]}')
    rendered = doc.replace(password="new").render()
    assert rendered == '{"engine": "postgres", "password": "new", "host": "h", "extra": [1, 2]}'
    assert json.loads(rendered)["extra"] == [1, 2]


@pytest.mark.parametrize(
    "bad",
    ['{"a": 1', "[1, 2]", '"string"', '{"a": 1, "a": 2}', '{"a": NaN}', "{}x", '{"current": '],
)
def test_json_refuses_malformed(bad: str) -> None:
    with pytest.raises(SecretFormatError):
        JsonDocument.parse(bad)


def test_json_field_errors_name_the_field() -> None:
    doc = JsonDocument.parse('{"password": 5}')
    with pytest.raises(SecretFormatError, match="'password'"):
        doc.get_str("password")
    with pytest.raises(SecretFormatError, match="'username'"):
        doc.get_str("username")
    assert doc.get_str("username", required=False) is None


@pytest.mark.parametrize(
    ("key", "encoding"),
    [
        ("0123456789abcdef" * 4, KeyEncoding.HEX),
        ("0123456789ABCDEF" * 4, KeyEncoding.HEX),
        ("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=", KeyEncoding.BASE64),
        ("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRW+/A", KeyEncoding.BASE64),
        ("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRW-_A", KeyEncoding.BASE64URL),
        ("Abc123Xyz789" * 4, KeyEncoding.ALPHANUMERIC),
    ],
)
def test_key_encoding_detection_and_same_shape_generation(key: str, encoding: KeyEncoding) -> None:
    shape = detect_key_encoding(key)
    assert shape.encoding is encoding
    fresh = shape.at_least(256).generate()
    assert shape.at_least(256).matches(fresh)
    assert fresh != key
    assert len(shape.at_least(256).decode(fresh)) * 8 >= 256 or encoding is KeyEncoding.ALPHANUMERIC


def test_short_keys_are_lengthened_to_256_bits() -> None:
    shape = detect_key_encoding("deadbeef" * 4)  # 128 bits of hex
    assert shape.entropy_bits == 128
    longer = shape.at_least(256)
    assert longer.length == 64
    assert longer.entropy_bits == 256


@pytest.mark.parametrize("bad", ["", "has space", "bad!chars", "abc=def", "YWJj=", "ab\ncd"])
def test_key_encoding_refuses_unknown_text(bad: str) -> None:
    with pytest.raises(SecretFormatError):
        detect_key_encoding(bad)


@pytest.mark.parametrize(
    "number", ["1e3", "1.50", "123456789012345678901234.5678", "1e400", "-0.0", "2E-7", "100000000000000000000000"]
)
def test_json_numbers_are_kept_exactly_as_written(number: str) -> None:
    text = '{\n    "password": "old",\n    "n": ' + number + ',\n    "cost": [1.10, 2e2]\n}'
    changed = JsonDocument.parse(text).replace(password="new").render()
    assert changed == text.replace('"old"', '"new"')
    assert "Infinity" not in changed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested too deeply"),
        ('{"a": ' + "9" * 5000 + "}", "number too long"),
        ('{"x": Infinity}', "non-standard constant"),
    ],
)
def test_json_that_breaks_parsers_is_a_format_error(text: str, problem: str) -> None:
    with pytest.raises(SecretFormatError, match=problem):
        JsonDocument.parse(text)


def test_a_duplicate_key_is_never_named_it_may_be_a_secret() -> None:
    with pytest.raises(SecretFormatError) as excinfo:
        JsonDocument.parse('{"sk_live_leakedkey123": 1, "sk_live_leakedkey123": 2}')
    assert "sk_live_leakedkey123" not in str(excinfo.value)


def test_a_lone_surrogate_is_refused_only_where_it_is_used() -> None:
    doc = JsonDocument.parse('{"current": "\\ud800abc", "note": "\\udfff"}')
    with pytest.raises(SecretFormatError, match="'current' holds an unpaired surrogate"):
        doc.get_str("current")
    assert doc.replace(current="new").render() == '{"current": "new", "note": "\\udfff"}'


def test_new_fields_follow_the_documents_layout() -> None:
    pretty = '{\n  "current": "k"\n}\n'
    assert JsonDocument.parse(pretty).replace(previous=["a"]).render() == (
        '{\n  "current": "k",\n  "previous": [\n    "a"\n  ]\n}\n'
    )
    assert JsonDocument.parse('{"a":1}').replace(b=2).render() == '{"a":1,"b":2}'


def test_a_master_secret_that_is_not_a_connection_secret_says_which_secret() -> None:
    from rotator.kinds.postgres.secret import PostgresSecret

    with pytest.raises(SecretFormatError, match=r"^master secret is not a connection secret"):
        PostgresSecret.parse("just-a-password", what="master secret")
