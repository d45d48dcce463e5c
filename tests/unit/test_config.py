"""gateway/config.py: one YAML file, GATEWAY_* overrides, errors that name the bad key.

Each test writes its own small file under tmp_path and sets environment variables only
through monkeypatch; an autouse fixture removes any GATEWAY_* variable of the machine first.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from gateway.cli import main
from gateway.config import ConfigError, Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
FULL_EXAMPLE_MARKER = "# gateway.yaml: every key"
# Sections documented with their own step; configuration.md links to them instead.
DOCUMENTED_ELSEWHERE = {"policy": "policy-authoring.md", "audit": "audit.md", "ratelimits": "ratelimits.md"}

ONE_BACKEND = """
backends:
  - name: local
    base_url: http://127.0.0.1:8000/v1
    models: [m1, m2]
"""


@pytest.fixture(autouse=True)
def _no_gateway_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("GATEWAY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def write(tmp_path: Path):
    def _write(text: str) -> Path:
        path = tmp_path / "gateway.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_values_in_the_yaml_file_are_loaded(write):
    settings = load_settings(write("server: {host: 10.0.0.7, port: 9001}\n" + ONE_BACKEND))
    assert (settings.server.host, settings.server.port) == ("10.0.0.7", 9001)
    assert settings.backends[0].models == ["m1", "m2"]


def test_an_empty_file_gives_the_defaults(write):
    assert load_settings(write("")) == Settings()


def test_the_file_named_by_gateway_config_is_used_without_a_path(write, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONFIG", str(write("server: {port: 9002}\n")))
    assert load_settings().server.port == 9002


def test_an_environment_variable_beats_the_yaml_file(write, monkeypatch):
    monkeypatch.setenv("GATEWAY_SERVER__PORT", "9090")
    assert load_settings(write("server: {port: 8080}\n")).server.port == 9090


def test_an_environment_override_keeps_the_other_keys_of_its_section(write, monkeypatch):
    monkeypatch.setenv("GATEWAY_SERVER__PORT", "9090")
    assert load_settings(write("server: {host: 10.1.2.3, port: 8080}\n")).server.host == "10.1.2.3"


def test_environment_variable_names_are_not_case_sensitive(write, monkeypatch):
    monkeypatch.setenv("gateway_logging__level", "debug")
    assert load_settings(write("")).logging.level == "debug"


def test_a_json_list_in_the_environment_replaces_the_files_list(write, monkeypatch):
    monkeypatch.setenv("GATEWAY_BACKENDS", '[{"name": "from-env", "base_url": "http://e:1/v1", "models": ["x"]}]')
    settings = load_settings(write(ONE_BACKEND))
    assert [b.name for b in settings.backends] == ["from-env"]


def test_a_json_mapping_in_the_environment_sets_aliases(write, monkeypatch):
    monkeypatch.setenv("GATEWAY_MODEL_ALIASES", '{"gpt-4o-mini": "m2"}')
    assert load_settings(write(ONE_BACKEND)).model_aliases == {"gpt-4o-mini": "m2"}


def test_a_bad_environment_value_is_reported_under_its_key(write, monkeypatch):
    monkeypatch.setenv("GATEWAY_SERVER__PORT", "eighty")
    assert re.search(r"^\s+server\.port: ", _error(write("")), re.MULTILINE)


def test_a_bad_backend_url_names_its_list_position(write):
    message = _error(write("backends: [{name: b, base_url: not-a-url, models: [m]}]\n"))
    assert "backends.0.base_url" in message


def test_every_bad_key_is_reported_at_once(write):
    message = _error(write("server: {port: 70000}\nlogging: {level: loud}\n"))
    assert "server.port" in message
    assert "logging.level" in message


def test_the_error_names_the_file_it_came_from(write):
    path = write("server: {port: -1}\n")
    assert str(path) in _error(path)


def test_an_unknown_top_level_key_is_rejected(write):
    assert re.search(r"^\s+srever: Extra inputs", _error(write("srever: {port: 1}\n")), re.MULTILINE)


def test_an_unknown_nested_key_is_rejected(write):
    assert "backends.0.timeout: Extra inputs" in _error(
        write("backends: [{name: b, base_url: 'http://b/v1', models: [m], timeout: 5}]\n")
    )


def test_a_backend_without_models_is_named(write):
    assert "backends.0.models" in _error(write("backends: [{name: b, base_url: 'http://b/v1'}]\n"))


def test_a_backend_with_an_empty_model_list_is_rejected(write):
    assert "backends.0.models" in _error(write("backends: [{name: b, base_url: 'http://b/v1', models: []}]\n"))


def test_a_backend_name_with_spaces_is_rejected(write):
    assert "backends.0.name" in _error(write("backends: [{name: my backend, base_url: 'http://b/v1', models: [m]}]\n"))


def test_two_backends_with_one_name_are_rejected(write):
    entry = "{name: twin, base_url: 'http://b/v1', models: [m]}"
    assert "backend names must be unique" in _error(write(f"backends: [{entry}, {entry}]\n"))


def test_an_alias_to_a_model_no_backend_serves_is_rejected(write):
    message = _error(write(ONE_BACKEND + "model_aliases: {gpt-4o-mini: not-served}\n"))
    assert "model_aliases.gpt-4o-mini" in message
    assert "not-served" in message


def test_an_alias_to_a_served_model_is_accepted(write):
    assert load_settings(write(ONE_BACKEND + "model_aliases: {gpt-4o-mini: m1}\n")).model_aliases == {
        "gpt-4o-mini": "m1"
    }


def test_a_backend_key_is_read_from_the_variable_api_key_env_names(write, monkeypatch):
    monkeypatch.setenv("ONPREM_KEY", "sk-backend-secret")
    settings = load_settings(write(ONE_BACKEND.replace("models:", "api_key_env: ONPREM_KEY\n    models:")))
    api_key = settings.backends[0].api_key
    assert api_key is not None
    assert api_key.get_secret_value() == "sk-backend-secret"


def test_a_backend_key_is_left_out_of_dumped_settings(write, monkeypatch):
    monkeypatch.setenv("ONPREM_KEY", "sk-backend-secret")
    settings = load_settings(write(ONE_BACKEND.replace("models:", "api_key_env: ONPREM_KEY\n    models:")))
    assert "sk-backend-secret" not in settings.model_dump_json()
    assert "api_key" not in settings.model_dump()["backends"][0]


def test_api_key_env_naming_an_unset_variable_is_rejected(write, monkeypatch):
    monkeypatch.delenv("GATEWAY_TEST_UNSET_BACKEND_KEY", raising=False)
    path = write(ONE_BACKEND.replace("models:", "api_key_env: GATEWAY_TEST_UNSET_BACKEND_KEY\n    models:"))
    assert "backends.0.api_key_env" in _error(path)


def test_a_backend_key_written_in_the_file_is_rejected(write):
    assert "backends.0.api_key" in _error(write(ONE_BACKEND.replace("models:", "api_key: sk-inline\n    models:")))


def test_a_key_given_as_its_sha256_needs_no_clear_key(write):
    digest = hashlib.sha256(b"sk-app").hexdigest()
    key = load_settings(write(f"keys: [{{key_sha256: {digest}, tenant: acme}}]\n")).keys[0]
    assert key.key is None
    assert key.key_sha256 == digest


def test_a_key_with_both_key_and_key_sha256_is_rejected(write):
    digest = hashlib.sha256(b"sk-app").hexdigest()
    message = _error(write(f"keys: [{{key: sk-app, key_sha256: {digest}, tenant: acme}}]\n"))
    assert re.search(r"keys\.0: .*exactly one of `key` or `key_sha256`", message)


def test_a_key_with_neither_key_nor_key_sha256_is_rejected(write):
    assert "keys.0: " in _error(write("keys: [{tenant: acme}]\n"))


def test_a_key_sha256_that_is_not_64_lower_case_hex_digits_is_rejected(write):
    upper = hashlib.sha256(b"sk-app").hexdigest().upper()
    assert "keys.0.key_sha256" in _error(write(f"keys: [{{key_sha256: {upper}, tenant: acme}}]\n"))


def test_a_clear_key_is_hidden_when_settings_are_printed(write):
    settings = load_settings(write("keys: [{key: sk-very-secret-value, tenant: acme}]\n"))
    assert "sk-very-secret-value" not in repr(settings)
    assert "sk-very-secret-value" not in str(settings)


def test_an_error_in_a_key_entry_does_not_repeat_the_key(write):
    message = _error(write("keys: [{key: sk-very-secret-value, tenant: acme, roles: [superuser]}]\n"))
    assert "keys.0.roles.0" in message
    assert "sk-very-secret-value" not in message


def test_a_key_without_roles_gets_the_app_role(write):
    assert load_settings(write("keys: [{key: sk-app, tenant: acme}]\n")).keys[0].roles == ["app"]


def test_keys_hash_prints_the_digest_key_sha256_expects(write, capsys):
    assert main(["keys", "hash", "--key", "sk-fresh"]) == 0
    digest = capsys.readouterr().out.strip()
    assert digest == hashlib.sha256(b"sk-fresh").hexdigest()
    assert load_settings(write(f"keys: [{{key_sha256: {digest}, tenant: acme}}]\n")).keys[0].key_sha256 == digest


def test_backend_capabilities_default_to_translating_max_completion_tokens_and_asking_for_usage(write):
    capabilities = load_settings(write(ONE_BACKEND)).backends[0].capabilities
    assert capabilities.accepts_max_completion_tokens is False
    assert capabilities.stream_usage is True


def test_settings_cannot_be_changed_after_loading(write):
    settings = load_settings(write(""))
    with pytest.raises(ValidationError):
        settings.server.port = 1  # type: ignore[misc]


def test_a_missing_file_is_reported_with_its_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_settings(missing)


def test_invalid_yaml_is_reported_as_such(write):
    assert "is not valid YAML" in _error(write("server: [port\n"))


def test_a_file_that_is_not_a_mapping_is_rejected(write):
    assert "must hold a mapping" in _error(write("- server\n- backends\n"))


def test_config_check_exits_2_on_an_invalid_file(write, capsys):
    with pytest.raises(SystemExit) as info:
        main(["config", "check", "--config", str(write("server: {port: high}\n"))])
    assert info.value.code == 2
    assert "server.port" in capsys.readouterr().err


def _full_example() -> dict[str, Any]:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    matching = [b for b in blocks if b.startswith(FULL_EXAMPLE_MARKER)]
    assert len(matching) == 1, "docs/configuration.md has no full example"
    data = yaml.safe_load(matching[0])
    assert isinstance(data, dict)
    return data


def _documented_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a YAML value, list items merged (`backends.name`)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}{key}"
            paths.add(path)
            paths |= _documented_paths(item, path + ".")
    elif isinstance(value, list):
        for item in value:
            paths |= _documented_paths(item, prefix)
    return paths


def _setting_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = f"{prefix}{name}"
        paths.add(path)
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                paths |= _setting_paths(candidate, path + ".")
    return paths


def test_the_documented_full_example_is_a_valid_configuration(write, monkeypatch):
    example = _full_example()
    for backend in example.get("backends", []):
        if backend.get("api_key_env"):
            monkeypatch.setenv(backend["api_key_env"], "sk-doc-example")
    load_settings(write(yaml.safe_dump(example)))


def test_the_documented_full_example_shows_every_setting():
    documented = _documented_paths(_full_example())
    elsewhere = {path for path in _setting_paths(Settings) if path.split(".")[0] in DOCUMENTED_ELSEWHERE}
    missing = _setting_paths(Settings) - elsewhere - documented
    assert not missing, f"docs/configuration.md full example lacks: {sorted(missing)}"


def test_sections_documented_elsewhere_are_linked_from_the_configuration_page():
    text = DOCS.read_text(encoding="utf-8")
    for section, page in DOCUMENTED_ELSEWHERE.items():
        assert f"`{section}:`" in text
        assert f"({page})" in text
