"""Unit tests: configuration from the environment and input validation, without a server."""

import pytest
from werkzeug.datastructures import MultiDict

from comments_api import validation
from comments_api.cli import main, prepare_metrics_dir
from comments_api.config import ConfigError, Settings
from comments_api.gunicorn_conf import _settings as gunicorn_settings
from comments_api.validation import ValidationError


class TestSettings:
    def test_defaults_put_a_sqlite_file_in_the_users_data_directory(self, tmp_path):
        settings = Settings.from_env({"HOME": str(tmp_path)})

        assert settings.database_url.get_backend_name() == "sqlite"
        assert settings.database_url.database == str(tmp_path / ".local/share/comments-api/comments.db")
        assert (settings.max_comment_length, settings.max_body_bytes, settings.max_page_size) == (5000, 65536, 100)

    def test_xdg_data_home_is_honoured(self, tmp_path):
        url = Settings.from_env({"XDG_DATA_HOME": str(tmp_path), "HOME": "/nonexistent"}).database_url

        assert url.database == str(tmp_path / "comments-api" / "comments.db")

    def test_data_dir_moves_the_sqlite_file(self, tmp_path):
        url = Settings.from_env({"DATA_DIR": str(tmp_path)}).database_url

        assert url.database == str(tmp_path / "comments.db")

    @pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
    def test_postgresql_urls_use_psycopg_3(self, scheme):
        url = Settings.from_env({"DATABASE_URL": f"{scheme}://u:p@db.internal:5432/comments"}).database_url

        assert url.drivername == "postgresql+psycopg"
        assert (url.host, url.port, url.database, url.username) == ("db.internal", 5432, "comments", "u")

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL scheme 'mysql' is not supported"),
            ({"DATABASE_URL": "sqlite://"}, "DATABASE_URL must name a SQLite file"),
            ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
            ({"MAX_COMMENT_LENGTH": "lots"}, "MAX_COMMENT_LENGTH must be an integer, got 'lots'"),
            ({"MAX_PAGE_SIZE": "0"}, "MAX_PAGE_SIZE must be >= 1, got 0"),
            ({"LOG_REQUESTS": "maybe"}, "LOG_REQUESTS must be true or false, got 'maybe'"),
            ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be DEBUG"),
            ({"DB_STATEMENT_TIMEOUT_MS": "5s"}, "DB_STATEMENT_TIMEOUT_MS must be an integer, got '5s'"),
            ({"DB_STATEMENT_TIMEOUT_MS": "-1"}, "DB_STATEMENT_TIMEOUT_MS must be >= 0, got -1"),
            ({"DB_KEEPALIVES_IDLE": "0"}, "DB_KEEPALIVES_IDLE must be >= 1, got 0"),
            ({"DB_KEEPALIVES_INTERVAL": "0.5"}, "DB_KEEPALIVES_INTERVAL must be an integer, got '0.5'"),
            ({"DB_KEEPALIVES_COUNT": "0"}, "DB_KEEPALIVES_COUNT must be >= 1, got 0"),
            ({"DB_TCP_USER_TIMEOUT_MS": "-4000"}, "DB_TCP_USER_TIMEOUT_MS must be >= 0, got -4000"),
            (
                {"DATABASE_URL": "postgresql://u@db/comments?keepalives_idle=60"},
                "DATABASE_URL must not set keepalives_idle: the app sets it on every connection from DB_KEEPALIVES_",
            ),
            ({"DATABASE_URL": "postgresql://u@db/comments?options=-c%20x%3Dy"}, "DATABASE_URL must not set options"),
        ],
    )
    def test_a_bad_value_names_the_variable(self, env, message):
        with pytest.raises(ConfigError, match=message):
            Settings.from_env(env)

    def test_database_waits_are_bounded_by_default(self):
        s = Settings.from_env({"DATABASE_URL": "postgresql://u@db/comments"})

        assert (s.db_connect_timeout, s.db_statement_timeout_ms, s.db_tcp_user_timeout_ms) == (3, 5000, 4000)
        assert (s.db_keepalives_idle, s.db_keepalives_interval, s.db_keepalives_count) == (2, 1, 2)
        # Keepalives alone (DB_TCP_USER_TIMEOUT_MS=0) would give up on a silent idle peer as soon.
        assert (s.db_keepalives_idle + s.db_keepalives_interval * s.db_keepalives_count) * 1000 == 4000

    def test_gunicorn_settings_come_from_the_environment(self):
        settings = gunicorn_settings(
            {"PORT": "9000", "HOST": "127.0.0.1", "WEB_CONCURRENCY": "3", "THREADS": "8", "GRACEFUL_TIMEOUT": "12"}
        )

        assert settings["bind"] == ["127.0.0.1:9000"]
        assert (settings["workers"], settings["threads"], settings["graceful_timeout"]) == (3, 8, 12)
        assert settings["worker_class"] == "gthread"

    def test_gunicorn_defaults(self):
        settings = gunicorn_settings({})

        assert settings["bind"] == ["0.0.0.0:8000"]
        assert (settings["workers"], settings["threads"]) == (2, 4)

    def test_the_command_refuses_a_bad_setting_before_starting(self, monkeypatch, capsys):
        monkeypatch.setenv("PORT", "eighty")

        assert main([]) == 2
        assert "PORT must be an integer, got 'eighty'" in capsys.readouterr().err

    def test_a_given_metrics_dir_is_emptied_of_a_previous_run(self, monkeypatch, tmp_path):
        (tmp_path / "counter_123.db").write_bytes(b"old")
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

        assert prepare_metrics_dir() is None
        assert list(tmp_path.iterdir()) == []


class TestContentId:
    @pytest.mark.parametrize(
        ("given", "stored"), [(1, "1"), ("1", "1"), (1.0, "1"), (-3, "-3"), ("abc_D-9", "abc_D-9"), ("01", "01")]
    )
    def test_numbers_and_strings_have_one_canonical_form(self, given, stored):
        assert validation.canonical_content_id(given) == stored

    @pytest.mark.parametrize("given", [True, None, 1.5, [], "", "a/b", "é", "x" * 65, 2**63])
    def test_anything_else_is_refused(self, given):
        with pytest.raises(ValidationError, match="content_id"):
            validation.canonical_content_id(given)


class TestNewComment:
    def test_a_valid_comment_passes_unchanged(self):
        new = validation.new_comment({"email": "A@Example.com", "comment": " hi ", "content_id": 2, "extra": 1}, 10)

        assert new == validation.NewComment(email="A@Example.com", comment=" hi ", content_id="2")

    def test_the_length_limit_is_configurable(self):
        assert validation.new_comment({"email": "a@example.com", "comment": "x" * 10, "content_id": 1}, 10)
        with pytest.raises(ValidationError, match="comment is longer than 10 characters"):
            validation.new_comment({"email": "a@example.com", "comment": "x" * 11, "content_id": 1}, 10)

    def test_internationalised_addresses_are_valid(self):
        assert validation.new_comment({"email": "joão@exemplo.com.br", "comment": "oi", "content_id": 1}, 10)

    def test_deeply_nested_json_is_an_error_not_a_crash(self):
        with pytest.raises(ValidationError, match="not valid JSON"):
            validation.parse_json_body(b"[" * 100000 + b"]" * 100000)


class TestPage:
    def test_no_parameters_means_everything(self):
        assert validation.page(MultiDict(), 100) == (None, 0)

    def test_limit_and_offset(self):
        assert validation.page(MultiDict({"limit": "5", "offset": "10"}), 100) == (5, 10)

    @pytest.mark.parametrize(
        "args", [{"limit": "101"}, {"limit": "0"}, {"limit": "1e3"}, {"offset": "-1"}, {"offset": " 1"}]
    )
    def test_out_of_range_or_malformed_is_refused(self, args):
        with pytest.raises(ValidationError):
            validation.page(MultiDict(args), 100)
