"""Password generation honours its policy and refuses impossible ones."""

from __future__ import annotations

import string

import pytest

from rotator.errors import ConfigurationError, PolicyError
from rotator.generation import generate_password, password_alphabet
from rotator.kinds import kind_class
from rotator.settings import DEFAULT_EXCLUDE_CHARACTERS, PasswordPolicy, Settings


def test_default_passwords_are_safe_in_urls_sql_and_shell() -> None:
    for _ in range(200):
        password = generate_password(PasswordPolicy())
        assert len(password) == 32
        assert not set(password) & set(DEFAULT_EXCLUDE_CHARACTERS)
        assert any(ch in string.ascii_lowercase for ch in password)
        assert any(ch in string.ascii_uppercase for ch in password)
        assert any(ch in string.digits for ch in password)


def test_passwords_are_distinct() -> None:
    assert len({generate_password(PasswordPolicy()) for _ in range(500)}) == 500


def test_excluded_characters_never_appear() -> None:
    policy = PasswordPolicy(length=64, exclude_characters=string.ascii_uppercase + string.punctuation + "0123")
    alphabet, classes = password_alphabet(policy)
    assert set(alphabet) == set(string.ascii_lowercase + "456789")
    assert len(classes) == 2
    assert not set(generate_password(policy)) & set(policy.exclude_characters)


def test_policy_excluding_everything_is_refused() -> None:
    everything = string.ascii_letters + string.digits + string.punctuation
    with pytest.raises(PolicyError, match="excludes every character"):
        generate_password(PasswordPolicy(exclude_characters=everything))


def test_settings_from_env_validates() -> None:
    settings = Settings.from_env({"ROTATION_PASSWORD_LENGTH": "40", "ROTATION_REQUIRE_EACH_TYPE": "no"})
    assert settings.password_policy.length == 40
    assert settings.password_policy.require_each_type is False
    with pytest.raises(ConfigurationError, match="ROTATION_PASSWORD_LENGTH"):
        Settings.from_env({"ROTATION_PASSWORD_LENGTH": "8"})
    with pytest.raises(ConfigurationError, match="ROTATION_RETAINED_KEYS"):  # read by its kind, at cold start too
        kind_class("session_secret")(Settings.from_env({"ROTATION_RETAINED_KEYS": "many"}))
    with pytest.raises(ConfigurationError, match="ROTATION_REQUIRE_EACH_TYPE"):
        Settings.from_env({"ROTATION_REQUIRE_EACH_TYPE": "maybe"})
