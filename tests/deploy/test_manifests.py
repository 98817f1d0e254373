"""The deployment files are valid and agree with each other and with what they run.

- Every Kubernetes manifest (and the state documents scripts/deploy_state.py prints) validates against
  Kubernetes' own schemas, offline and strictly (kubernetes-validate: an unknown field is an error).
- The LocustTest validates against deploy/locust-operator/locusttest-v1.schema.json, and against the
  operator's CRD itself when LOCUST_OPERATOR_CRD names its file; the deliveryhero values use only the
  chart's keys (and, when DELIVERYHERO_LOCUST_VALUES names the chart's values.yaml, keys it has).
- The command lines they carry are read by the real parsers: Locust's (with loginload's options) for
  the master and the workers, ``loginload idp``'s for the IdP.
- The names they share line up: image, Services, issuer, store, Secret, ConfigMap, mount paths.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from loadtests import LOCUSTFILE
from loginload.cli import build_parser
from mock_idp.idp_command import settings_from_args
from mock_idp.keys import load_keys
from mock_idp.routes import HEALTH, METRICS
from tests.deploy.manifests import (
    DELIVERYHERO_VALUES,
    LOCUSTTEST,
    LOCUSTTEST_SCHEMA,
    OPERATOR_MOUNT,
    ROOT,
    container,
    env_of,
    find,
    flag_value,
    flags_in,
    kubernetes_docs,
    load_all,
    locust_accepts,
    locust_parser_names,
    locusttest,
    locusttest_command,
    project_version,
    run_state_init,
    state_documents,
    write_secret,
)

K8S_VERSION = "1.29"  # the oldest Kubernetes still commonly run; README "Scaling out" names it
IMAGE = f"loginload:{project_version()}"
SECRET_NAME, CONFIGMAP_NAME = "loginload-idp-state", "loginload-locust"


# ---------------------------------------------------------------- Kubernetes' schemas, offline


@pytest.mark.parametrize(
    "doc", [d for _, d in kubernetes_docs()], ids=[f"{p.name}:{d['kind']}" for p, d in kubernetes_docs()]
)
def test_every_manifest_validates_against_the_kubernetes_schemas(doc: dict[str, Any]) -> None:
    assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == K8S_VERSION


def test_the_state_documents_validate_and_hold_what_replicas_and_generators_share() -> None:
    secret, configmap = state_documents("--issuer", "http://loginload-idp:8765")
    for doc in (secret, configmap):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", SECRET_NAME)
    assert {"secret.key", "dev-client.json", "keys.index.json"} <= set(secret["data"])
    assert any(k.endswith(".pem") for k in secret["data"])
    assert (configmap["kind"], configmap["metadata"]["name"]) == ("ConfigMap", CONFIGMAP_NAME)
    assert configmap["data"]["locustfile.py"] == Path(LOCUSTFILE).read_text()
    client = json.loads(configmap["data"]["client.json"])
    assert "http://loginload-idp:8765/dev/callback" in client["redirect_uris"]


def test_a_manifest_with_an_unknown_field_fails_the_strict_check() -> None:
    bad = copy.deepcopy(find("Deployment", "loginload-idp"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # a typo the server drops
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


# ---------------------------------------------------------------------- the LocustTest resource


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's openAPIV3Schema as JSON Schema in which a field the API server would prune is an error."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _strict(v) for k, v in out["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = _strict(out["items"])
    for key in ("oneOf", "anyOf", "allOf"):
        if key in out:
            out[key] = [_strict(s) for s in out[key]]
    return out


def crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one custom resource, from its CustomResourceDefinition (served version)."""
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served")]
    schema = _strict(version["schema"]["openAPIV3Schema"])
    schema["properties"] = {
        "apiVersion": {"const": f"{crd['spec']['group']}/{version['name']}"},
        "kind": {"const": crd["spec"]["names"]["kind"]},
        "metadata": {"type": "object"},
        **schema["properties"],
    }
    schema["required"] = ["apiVersion", "kind", "spec"]
    return schema


def locusttest_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(LOCUSTTEST_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


def test_the_locusttest_validates_against_the_operators_schema() -> None:
    jsonschema.validate(locusttest(), locusttest_schema())


@pytest.mark.skipif(not os.environ.get("LOCUST_OPERATOR_CRD"), reason="LOCUST_OPERATOR_CRD names no CRD file")
def test_the_locusttest_validates_against_the_operators_own_crd() -> None:
    (crd,) = [
        d
        for d in load_all(Path(os.environ["LOCUST_OPERATOR_CRD"]))
        if d["kind"] == "CustomResourceDefinition"
    ]
    jsonschema.validate(locusttest(), crd_schema(crd))


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.pop("workers"),
        lambda s: s.update(workers=0),
        lambda s: s.update(volumes=[]),  # not in the CRD: the API server would drop it silently
        lambda s: s["env"].append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}}),
        lambda s: s["locustfile"].update(content="print()"),  # content or a ConfigMap, not both
        lambda s: s.update(args=["--headless"]),  # one string, split like a shell
    ],
    ids=["no workers", "0 workers", "unknown field", "env valueFrom", "two locustfiles", "args list"],
)
def test_the_schema_refuses_what_the_operator_would_not_take(change: Any) -> None:
    doc = locusttest()
    change(doc["spec"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, locusttest_schema())


def test_the_crd_conversion_prunes_unknown_fields_and_keeps_the_rest() -> None:
    crd = {
        "spec": {
            "group": "example.io",
            "names": {"kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"n": {"type": "integer"}, "free": {"type": "object"}},
                                }
                            },
                        }
                    },
                }
            ],
        }
    }
    schema = crd_schema(crd)
    jsonschema.validate({"apiVersion": "example.io/v1", "kind": "Thing", "spec": {"n": 1}}, schema)
    for bad in ({"n": "1"}, {"m": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"apiVersion": "example.io/v1", "kind": "Thing", "spec": bad}, schema)


@pytest.mark.parametrize("role", ["master", "worker"])
def test_locust_reads_the_locusttest_command_line_as_master_and_worker(role: str) -> None:
    spec = locusttest()["spec"]
    args = locusttest_command(role)
    env = env_of(spec["env"])
    names = locust_parser_names()
    assert set(flags_in(args)) <= names["flags"], set(flags_in(args)) - names["flags"]
    assert set(env) <= names["env"], set(env) - names["env"]
    # the locustfile as the ConfigMap ships it: a copy of the installed one, alone in a folder
    env["LOCUST_LOCUSTFILE"] = LOCUSTFILE
    result = locust_accepts(args, env, LOCUSTFILE)
    assert result.returncode == 0 and "Citizen" in result.stdout, result.stderr[-2000:]


def test_locust_refuses_a_bad_option_value_so_the_check_above_means_something() -> None:
    result = locust_accepts([*locusttest_command("master"), "--shape", "sideways"], {}, LOCUSTFILE)
    assert result.returncode != 0 and "--shape" in result.stderr


def test_the_locusttest_agrees_with_the_idp_the_state_and_the_operators_mounts() -> None:
    doc = locusttest()
    spec, args = doc["spec"], locusttest_command("master")
    idp = _idp_settings()
    assert spec["image"] == IMAGE
    assert int(flag_value(args, "--expect-workers")) == spec["workers"]
    assert flag_value(args, "--host") == idp.issuer_url
    assert flag_value(args, "--allow-target") == urlsplit(idp.issuer_url).hostname
    assert spec["locustfile"] == {"configMap": {"name": CONFIGMAP_NAME}}
    assert flag_value(args, "--client-config") == f"{OPERATOR_MOUNT}/client.json"
    assert env_of(spec["env"])["LOCUST_LOCUSTFILE"] == f"{OPERATOR_MOUNT}/locustfile.py"
    assert int(flag_value(args, "--autoquit")) > 0  # the master waits for its results to be copied


# ------------------------------------------------------------------------- the IdP and Redis


def _idp_args() -> list[str]:
    idp = container(find("Deployment", "loginload-idp"), "idp")
    assert idp["command"] == ["loginload"]
    return list(idp["args"])


def _idp_settings() -> Any:
    args = build_parser().parse_args(_idp_args())
    return settings_from_args(args)


def test_the_idp_command_line_is_read_by_loginload_idp() -> None:
    settings = _idp_settings()
    assert settings.host == "0.0.0.0" and settings.workers >= 1
    assert settings.store.startswith("redis://")


def test_the_idp_deployment_runs_replicas_with_probes_scrape_annotations_and_the_shared_secret() -> None:
    dep = find("Deployment", "loginload-idp")
    settings = _idp_settings()
    pod = dep["spec"]["template"]
    idp = container(dep, "idp")
    assert dep["spec"]["replicas"] >= 2
    (port,) = idp["ports"]
    assert port["containerPort"] == settings.port
    for probe in ("readinessProbe", "livenessProbe"):
        assert idp[probe]["httpGet"] == {"path": HEALTH, "port": port["name"]}, probe
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(settings.port),
        "prometheus.io/path": METRICS,
    }
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["shared"]["secret"] == {"secretName": SECRET_NAME}
    state_mount = {m["mountPath"]: m["name"] for m in idp["volumeMounts"]}
    assert state_mount[settings.state_dir] == "state" and "emptyDir" in volumes["state"]
    assert idp["image"] == container(dep, "state", init=True)["image"] == IMAGE
    service = find("Service", "loginload-idp")
    assert service["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert urlsplit(settings.issuer_url).netloc == f"loginload-idp:{service['spec']['ports'][0]['port']}"


def test_every_idp_replica_points_its_store_at_the_redis_service() -> None:
    store = urlsplit(_idp_settings().store)
    service = find("Service", "loginload-redis")
    redis = container(find("Deployment", "loginload-redis"), "redis")
    assert (store.hostname, store.port) == ("loginload-redis", service["spec"]["ports"][0]["port"])
    assert redis["ports"][0]["containerPort"] == 6379
    args = redis["args"]
    assert flag_value(args, "--maxmemory-policy") == "noeviction"  # a spent code's marker must stay
    assert flag_value(args, "--save") == "" and flag_value(args, "--appendonly") == "no"
    policy = find("NetworkPolicy", "loginload-redis")
    (rule,) = policy["spec"]["ingress"]
    labels = find("Deployment", "loginload-idp")["spec"]["template"]["metadata"]["labels"]
    assert rule["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_init_container_rebuilds_the_state_every_replica_shares(
    tmp_path: Path, state_template: Path
) -> None:
    """The Secret of a state directory, as its volume shows it, put back by the pod's own script:
    the same keys, sealing secret and client, in the layout ``--state-dir`` reads."""
    secret, _ = state_documents("--from-state", str(state_template))
    shared = write_secret(secret, tmp_path / "shared")
    for replica in ("a", "b"):
        state = tmp_path / replica
        run_state_init(shared, state)
        assert (state / "secret.key").read_bytes() == (state_template / "secret.key").read_bytes()
        assert (state / "dev-client.json").read_bytes() == (state_template / "dev-client.json").read_bytes()
        assert load_keys(state).jwks() == load_keys(state_template).jwks()
        assert (state / "secret.key").stat().st_mode & 0o077 == 0


# ------------------------------------------------------------------ the deliveryhero/locust chart

# The chart's keys (deliveryhero/locust 0.35, values.yaml) that a loginload values file may set; a
# key below one of FREE holds free-form content (a list of args, resources, an env mapping).
CHART_KEYS = {
    "loadtest": {
        "name",
        "locust_locustfile",
        "locust_locustfile_path",
        "locust_locustfile_configmap",
        "locust_lib_configmap",
        "locust_host",
        "pip_packages",
        "environment",
        "headless",
        "tags",
        "excludeTags",
        "locustCmd",
    },
    "image": {"repository", "tag", "pullPolicy"},
    "master": {"image", "logLevel", "replicas", "resources", "environment", "args", "command"},
    "worker": {"image", "logLevel", "replicas", "resources", "environment", "args", "command", "hpa"},
}


def _values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(DELIVERYHERO_VALUES.read_text())
    return values


def _key_paths(values: dict[str, Any]) -> set[tuple[str, str]]:
    return {(top, key) for top, table in values.items() for key in table}


def test_the_deliveryhero_values_use_only_the_charts_keys() -> None:
    used = _key_paths(_values())
    known = {(top, key) for top, keys in CHART_KEYS.items() for key in keys}
    assert used <= known, used - known
    chart_values = os.environ.get("DELIVERYHERO_LOCUST_VALUES")
    if chart_values:  # the chart's own values.yaml, when given: every key we set is one of its keys
        assert used <= _key_paths(yaml.safe_load(Path(chart_values).read_text()))


@pytest.mark.parametrize("role", ["master", "worker"])
def test_locust_reads_the_deliveryhero_command_lines(role: str) -> None:
    values = _values()
    load = values["loadtest"]
    # what the chart's pods get: --master / --worker, then the values' args, and its default env
    args = ["--master" if role == "master" else "--worker", *values[role]["args"]]
    env = {
        "LOCUST_HOST": load["locust_host"],
        "LOCUST_LOCUSTFILE": LOCUSTFILE,  # for f"{locust_locustfile_path}/{locust_locustfile}" in the pod
        "LOCUST_LOGLEVEL": values[role]["logLevel"],
    }
    assert set(flags_in(args)) <= locust_parser_names()["flags"]
    result = locust_accepts(args, env, LOCUSTFILE)
    assert result.returncode == 0 and "Citizen" in result.stdout, result.stderr[-2000:]


def test_the_deliveryhero_values_agree_with_the_operators_resource() -> None:
    values, spec = _values(), locusttest()["spec"]
    load, master = values["loadtest"], values["master"]["args"]
    assert f"{values['image']['repository']}:{values['image']['tag']}" == IMAGE
    assert (
        load["locust_locustfile_configmap"] == CONFIGMAP_NAME and load["locust_locustfile"] == "locustfile.py"
    )
    assert flag_value(master, "--client-config") == f"{load['locust_locustfile_path']}/client.json"
    assert int(flag_value(master, "--expect-workers")) == values["worker"]["replicas"] == spec["workers"]
    assert load["locust_host"] == flag_value(locusttest_command("master"), "--host")
    assert not load["headless"] and "--autoquit" not in master  # a Deployment restarts what exits


# ------------------------------------------------------------------------------------ the README


def test_the_readme_says_how_to_deploy_what_is_checked_here() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Scaling out" in readme
    section = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    for path in [
        *sorted((ROOT / "deploy").rglob("*.yaml")),
        LOCUSTTEST_SCHEMA,
        ROOT / "scripts/deploy_state.py",
    ]:
        assert str(path.relative_to(ROOT)) in section, path
    assert f"Kubernetes {K8S_VERSION}" in section
    assert LOCUSTTEST.name in section and "locust.io/v1" in section
