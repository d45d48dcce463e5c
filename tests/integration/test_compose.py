"""compose.yaml, the files it mounts and the Dockerfile, checked without a Docker engine.

`docker compose config` (or the v1 `docker-compose config`) parses, validates and interpolates
compose.yaml as `up` would; the tests read its normalized output, whichever tool wrote it.
Under CI=true a missing compose tool fails the run; elsewhere those tests skip and say why.
The gateway configuration that compose mounts is loaded with the real `load_settings`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import regorus
import yaml

from gateway.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DEPLOY_CONFIG = ROOT / "deploy" / "gateway.compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Variables compose.yaml interpolates: unset, so the rendered file shows its own defaults.
_INTERPOLATED = ("POSTGRES_PASSWORD", "VLLM_API_KEY", "HF_TOKEN")
# A container must listen on every interface of its own network namespace to be reachable.
_ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - compared with, never bound to
_SERVICE_URL_VARIABLES = (
    "GATEWAY_AUDIT__DATABASE_URL",
    "GATEWAY_RATELIMITS__STORAGE",
    "GATEWAY_POLICY__OPA_URL",
)

pytestmark = pytest.mark.integration


def _compose_tool() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False, timeout=60)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """compose.yaml as the compose tool resolves it (anchors merged, paths absolute)."""
    tool = _compose_tool()
    if tool is None:
        reason = (
            "neither `docker compose` nor `docker-compose` is installed; "
            "scripts/install-test-tools.sh installs docker-compose (make tools)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _INTERPOLATED and not k.startswith(("COMPOSE_", "DOCKER_", "GATEWAY_"))
    }
    result = subprocess.run(
        [*tool, "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, f"{shlex.join(tool)} config failed:\n{result.stderr}"
    document = yaml.safe_load(result.stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def services(rendered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return rendered["services"]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GATEWAY_* variable of the machine running the tests reaches `load_settings`."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) for each volume, from either tool's syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            source, target = parts[0], parts[1]
            read_only = len(parts) > 2 and "ro" in parts[2].split(",")
        else:
            source, target = str(volume.get("source", "")), str(volume["target"])
            read_only = bool(volume.get("read_only", False))
        mounts.append((source, target, read_only))
    return mounts


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    for source, target, _ in _mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return Path(source + container_path[len(target) :])
    return None


def _published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host_ip, published, target) for each published port."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, str):
            spec = port.split("/")[0].split(":")
            host_ip = spec[0] if len(spec) == 3 else ""
            ports.append((host_ip, spec[-2] if len(spec) > 1 else "", spec[-1]))
        else:
            ports.append((str(port.get("host_ip", "")), str(port.get("published", "")), str(port["target"])))
    return ports


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _option(command: list[str], flag: str) -> str | None:
    for i, arg in enumerate(command):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(command):
            return command[i + 1]
    return None


def _healthcheck_test(service: dict[str, Any]) -> list[str] | str | None:
    check = service.get("healthcheck") or {}
    return None if check.get("disable") else check.get("test")


def test_compose_brings_up_gateway_postgres_redis_opa_and_demo_upstream(services):
    assert {"gateway", "postgres", "redis", "opa", "demo-upstream"} <= set(services)


def test_postgres_is_major_16_and_redis_major_7(services):
    assert re.fullmatch(r"postgres:16([.-].*)?", services["postgres"]["image"])
    assert re.fullmatch(r"redis:7([.-].*)?", services["redis"]["image"])


def test_opa_image_is_pinned_to_a_1x_release(services):
    assert re.fullmatch(r"openpolicyagent/opa:1\.\d+\.\d+", services["opa"]["image"])


def test_opa_serves_the_policies_directory_mounted_read_only(services):
    opa = services["opa"]
    command = list(opa["command"])
    assert command[:2] == ["run", "--server"]
    policy_mounts = [(target, ro) for source, target, ro in _mounts(opa) if Path(source) == ROOT / "policies"]
    assert len(policy_mounts) == 1
    target, read_only = policy_mounts[0]
    assert read_only
    assert target in command


def test_opa_listens_on_all_interfaces_of_its_container(services):
    # OPA 1.x listens on localhost only by default, unreachable from the gateway's container.
    assert _option(list(services["opa"]["command"]), "--addr") == ":8181"


def test_every_path_opa_loads_exists_on_the_host(services):
    opa = services["opa"]
    command = list(opa["command"])
    paths = [arg for arg in command if arg.startswith("/")]
    config_file = _option(command, "--config-file")
    assert config_file is not None
    for container_path in [*paths, config_file]:
        host = _host_path(opa, container_path)
        assert host is not None, f"{container_path} is not mounted"
        assert host.exists(), f"{container_path} -> {host} does not exist"


def test_opa_decision_log_mask_erases_the_whole_input(services):
    opa = services["opa"]
    command = list(opa["command"])
    config_path = _host_path(opa, _option(command, "--config-file") or "")
    assert config_path is not None
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    mask_rule = config["decision_logs"]["mask_decision"]
    engine = regorus.Engine()
    mask_files = [
        host
        for arg in command
        if arg.endswith(".rego") and (host := _host_path(opa, arg)) is not None and host.is_file()
    ]
    assert mask_files, "no mask policy is loaded beside the policies directory"
    for path in mask_files:
        engine.add_policy(path.name, path.read_text(encoding="utf-8"))
    erased = engine.eval_rule("data" + mask_rule.replace("/", "."))
    assert "/input" in erased


def test_gateway_reaches_the_audit_database_rate_limit_store_and_opa_by_environment(services):
    env = _environment(services["gateway"])
    audit = urlsplit(env["GATEWAY_AUDIT__DATABASE_URL"])
    assert (audit.scheme, audit.hostname) == ("postgresql+asyncpg", "postgres")
    storage = urlsplit(env["GATEWAY_RATELIMITS__STORAGE"])
    assert (storage.scheme, storage.hostname) == ("redis", "redis")
    assert env["GATEWAY_POLICY__ENGINE"] == "opa"
    assert urlsplit(env["GATEWAY_POLICY__OPA_URL"]).hostname == "opa"


def test_every_service_url_in_the_gateway_environment_names_a_compose_service(services):
    env = _environment(services["gateway"])
    for name in _SERVICE_URL_VARIABLES:
        assert urlsplit(env[name]).hostname in services, name


def test_audit_database_credentials_match_the_postgres_service(services):
    audit = urlsplit(_environment(services["gateway"])["GATEWAY_AUDIT__DATABASE_URL"])
    postgres = _environment(services["postgres"])
    assert audit.username == postgres["POSTGRES_USER"]
    assert audit.password == postgres["POSTGRES_PASSWORD"]
    assert audit.path.lstrip("/") == postgres["POSTGRES_DB"]


def test_gateway_config_file_is_mounted_read_only_from_deploy(services):
    gateway = services["gateway"]
    target = _environment(gateway)["GATEWAY_CONFIG"]
    matches = [(Path(source), ro) for source, t, ro in _mounts(gateway) if t == target]
    assert len(matches) == 1
    source, read_only = matches[0]
    assert read_only
    assert source.parent == ROOT / "deploy"
    assert source.is_file()


def test_gateway_waits_for_healthy_postgres_redis_opa_and_demo_upstream(services):
    depends = _depends_on(services["gateway"])
    for name in ("postgres", "redis", "opa", "demo-upstream"):
        assert depends.get(name) == "service_healthy", name


def test_audit_schema_is_migrated_before_the_gateway_starts(services):
    assert _depends_on(services["gateway"]).get("migrate") == "service_completed_successfully"
    migrate = services["migrate"]
    assert list(migrate["command"]) == ["db", "upgrade"]
    assert migrate["image"] == services["gateway"]["image"]
    gateway_url = _environment(services["gateway"])["GATEWAY_AUDIT__DATABASE_URL"]
    assert _environment(migrate)["GATEWAY_AUDIT__DATABASE_URL"] == gateway_url


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if str(service.get("restart", "no")) != "no":
            assert _healthcheck_test(service), name


def test_gateway_healthcheck_probes_healthz(services):
    assert "/healthz" in " ".join(_healthcheck_test(services["gateway"]) or [])


def test_only_the_gateway_publishes_a_port_and_only_on_loopback(services):
    for name, service in services.items():
        if name != "gateway":
            assert not _published(service), f"{name} publishes a port"
    assert {host_ip for host_ip, _, _ in _published(services["gateway"])} == {"127.0.0.1"}


def test_demo_upstream_runs_from_the_gateway_image_on_the_backend_port(services, clean_environment):
    demo = services["demo-upstream"]
    assert demo["image"] == services["gateway"]["image"]
    command = list(demo["command"])
    assert command[0] == "demo-upstream"
    assert _option(command, "--host") == _ALL_INTERFACES
    backend_urls = [urlsplit(str(b.base_url)) for b in load_settings(DEPLOY_CONFIG).backends]
    demo_backend = next(u for u in backend_urls if u.hostname == "demo-upstream")
    assert _option(command, "--port") == str(demo_backend.port)


def test_deploy_config_loads(clean_environment):
    settings = load_settings(DEPLOY_CONFIG)
    assert settings.backends
    assert settings.keys


def test_deploy_config_backends_point_at_compose_services(services, clean_environment):
    for backend in load_settings(DEPLOY_CONFIG).backends:
        assert urlsplit(str(backend.base_url)).hostname in services, backend.name


def test_deploy_config_holds_only_hashed_keys(clean_environment):
    settings = load_settings(DEPLOY_CONFIG)
    assert all(k.key is None and k.key_sha256 for k in settings.keys)


def test_deploy_config_listens_on_the_port_compose_publishes(services, clean_environment):
    settings = load_settings(DEPLOY_CONFIG)
    assert settings.server.host == _ALL_INTERFACES
    assert {target for _, _, target in _published(services["gateway"])} == {str(settings.server.port)}


def _section_overrides(env: dict[str, str]) -> dict[str, tuple[str, ...]]:
    return {
        name: tuple(name.removeprefix("GATEWAY_").lower().split("__"))
        for name in env
        if name.startswith("GATEWAY_") and "__" in name
    }


def test_compose_environment_validates_against_the_settings(services, clean_environment, monkeypatch):
    """Each GATEWAY_* value compose sets lands where it says, for every section Settings has."""
    env = _environment(services["gateway"])
    for name, value in env.items():
        if name.startswith("GATEWAY_") and name != "GATEWAY_CONFIG":
            monkeypatch.setenv(name, value)
    settings = load_settings(DEPLOY_CONFIG)
    for name, path in _section_overrides(env).items():
        if path[0] not in Settings.model_fields:
            continue
        value: Any = settings
        for part in path:
            value = getattr(value, part)
        assert str(value).rstrip("/") == env[name].rstrip("/"), name


def test_every_section_compose_configures_exists_in_the_settings(services):
    sections = {path[0] for path in _section_overrides(_environment(services["gateway"])).values()}
    assert sections <= set(Settings.model_fields)


def _final_stage(dockerfile: str) -> list[str]:
    lines = [line.strip() for line in dockerfile.replace("\\\n", " ").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    last_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    return instructions[last_from:]


def _dockerignore_pattern(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip("/")
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return re.compile(regex)


def _in_build_context(relative: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent directory counts."""
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    rules = [(line.startswith("!"), line.lstrip("!").strip()) for line in lines if line.strip()]
    rules = [(negated, pattern) for negated, pattern in rules if not pattern.startswith("#")]
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, pattern in rules:
        regex = _dockerignore_pattern(pattern)
        if any(regex.fullmatch(candidate) for candidate in candidates):
            included = negated
    return included


def test_dockerfile_runs_the_gateway_as_a_non_root_user():
    users = [
        line.split()[1] for line in _final_stage(DOCKERFILE.read_text(encoding="utf-8")) if line.startswith("USER ")
    ]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_every_file_the_dockerfile_copies_is_in_the_build_context():
    dockerfile = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    sources = []
    for line in dockerfile.splitlines():
        words = line.split()
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert _in_build_context(source), f"{source} is excluded by .dockerignore"


def test_build_context_leaves_out_the_virtualenv_git_and_local_databases():
    for path in (".venv/bin/python", ".git/config", "gateway-audit.db", "gateway/__pycache__/app.cpython-311.pyc"):
        assert not _in_build_context(path), path
