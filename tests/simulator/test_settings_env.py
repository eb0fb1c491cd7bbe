import pytest

from simulator.settings.env import database_from_url, env_bool, env_int


def test_database_urls():
    pg = database_from_url("postgres://radsim:s%40cret@db.local:5433/radsim")
    assert pg["ENGINE"].endswith("postgresql") and pg["PASSWORD"] == "s@cret" and pg["PORT"] == "5433"
    assert database_from_url("sqlite:////tmp/x.sqlite3")["NAME"] == "/tmp/x.sqlite3"
    with pytest.raises(ValueError, match="mysql"):
        database_from_url("mysql://x@y/z")


def test_typed_env_helpers_name_the_bad_value(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG='maybe'"):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ValueError, match="X_NUM='ten'"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False
