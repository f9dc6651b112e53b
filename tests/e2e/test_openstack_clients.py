"""The real OpenStack clients, unchanged, against a running Steelyard (process driver):

- the `openstack loadbalancer` commands (python-octaviaclient, each command a process of its
  own forked from one that imported the client: tests/support/openstack_cli.py) create, show,
  list, set, unset and delete every object type, load balancers with --wait reaching ACTIVE;
- openstacksdk's `load_balancer` proxy does the same;
- clouds.yaml with `http_basic` (a member's key from `steelyard keys create` as password) and
  `admin_token` (an admin's key) against `--auth keys`, and `auth_type: none` against noauth.

Both are table-driven (CLI_OBJECTS, SDK_OBJECTS): an object type is one entry, in the order
objects depend on each other; they are deleted in reverse order.
"""

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import ServerHandle, running_server, wait_until
from tests.support.certs import TestCA
from tests.support.openstack_cli import OpenstackCli

# openstacksdk warns about its own future removals; those are not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:openstack"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:openstack"),
]

OPENSTACK = str(Path(sys.executable).parent / "openstack")
PROJECT = "p-clients"
JSON = ("-f", "json")
Ids = dict[str, str]


def _steelyard(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "steelyard", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def keys_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with running_server(tmp_path_factory.mktemp("keys"), "process", ("--auth", "keys")) as s:
        yield s


@pytest.fixture(scope="module")
def noauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with running_server(tmp_path_factory.mktemp("noauth"), "process") as server:
        yield server


@dataclass(frozen=True)
class Clouds:
    path: Path  # clouds.yaml
    subnet: str  # the default VIP subnet of the keys server
    certificate: str  # a server certificate and key in the secret store (its reference URL)
    cli: OpenstackCli

    def run(self, cloud: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli.run(["--os-cloud", cloud, *args])

    def osc(self, cloud: str, *args: str) -> Any:
        """One `openstack` command; its output when asked for JSON (`-f json`)."""
        done = self.run(cloud, *args)
        assert done.returncode == 0, f"openstack {' '.join(args)}:\n{done.stderr}"
        return json.loads(done.stdout) if "json" in args else None


@pytest.fixture(scope="module")
def clouds(
    tmp_path_factory: pytest.TempPathFactory, keys_server: ServerHandle, noauth_server: ServerHandle
) -> Iterator[Clouds]:
    state = str(keys_server.state_dir)
    member, reader, admin = (
        _steelyard("keys", "create", "--project", project, "--role", role, "--state-dir", state)
        for project, role in ((PROJECT, "member"), (PROJECT, "reader"), ("ops", "admin"))
    )

    url = keys_server.url

    def basic(key: str) -> dict[str, Any]:
        auth = {"endpoint": url, "username": "anyone", "password": key}
        return {"auth_type": "http_basic", "auth": auth}

    config = {
        "clouds": {
            "member": basic(member),
            "reader": basic(reader),
            "admin": {"auth_type": "admin_token", "auth": {"endpoint": url, "token": admin}},
            "none": {"auth_type": "none", "auth": {"endpoint": noauth_server.url}},
        }
    }  # fmt: skip
    path = tmp_path_factory.mktemp("clouds") / "clouds.yaml"
    path.write_text(yaml.safe_dump(config))
    with keys_server.api(project=None, token=admin) as api:
        subnet = api.get("/v2/steelyard/subnets").json()["subnets"][0]["id"]
    with keys_server.api(project=None, token=member) as api:
        upload = {"secret": {"name": "web", "pem": TestCA().issue("web.example").bundle()}}
        created = api.post("/v2/steelyard/secrets", json=upload)
        assert created.status_code == 201, created.text
    cli = OpenstackCli({**os.environ, "OS_CLIENT_CONFIG_FILE": str(path)}, path.parent)
    try:
        yield Clouds(path, subnet, created.json()["secret"]["secret_ref"], cli)
    finally:
        cli.close()


# --- the openstack CLI ------------------------------------------------------------------------


@dataclass(frozen=True)
class CliObject:
    """One object type for the CLI. Arguments are templates: `{pool}` is the ID made for the
    entry "pool" (JSON values have no spaces, so that splitting on them keeps them whole)."""

    key: str  # its name in `ids`
    noun: str  # "loadbalancer listener"
    cloud: str
    create: str
    set: tuple[str, str, Any]  # arguments, then the attribute and its value afterwards
    unset: tuple[str, str, Any] | None = None
    parent: str | None = None  # positional before the object's ID (a member's pool)
    waits: bool = True  # takes --wait
    ident: str = "id"  # what names it (an availability zone: its name)

    def ref(self, ids: Ids) -> list[str]:
        return ([ids[self.parent]] if self.parent else []) + [ids[self.key]]

    def args(self, template: str, ids: Ids) -> list[str]:
        return template.format(**ids, single=SINGLE).split()


LB = "loadbalancer"
SINGLE = '{"loadbalancer_topology":"SINGLE"}'
CLI_OBJECTS = [
    CliObject(
        "flavorprofile", f"{LB} flavorprofile", "admin",
        "--name fp --provider appliance --flavor-data {single}", ("--name fp2", "name", "fp2"),
        waits=False,
    ),
    CliObject(
        "flavor", f"{LB} flavor", "admin",
        "--name one --flavorprofile {flavorprofile} --description d",
        ("--name single", "name", "single"), ("--description", "description", ""), waits=False,
    ),
    CliObject(
        "azprofile", f"{LB} availabilityzoneprofile", "admin",
        "--name azp --provider appliance --availability-zone-data {{}}",
        ("--name azp2", "name", "azp2"), waits=False,
    ),
    CliObject(
        "az", f"{LB} availabilityzone", "admin",
        "--name az1 --availabilityzoneprofile {azprofile} --description d",
        ("--disable", "enabled", False), ("--description", "description", ""),
        waits=False, ident="name",
    ),
    CliObject(
        "lb", LB, "member", "--name web --description d --vip-subnet-id {subnet} --flavor {flavor}",
        ("--name web2", "name", "web2"), ("--description", "description", ""),
    ),
    CliObject(
        "listener", f"{LB} listener", "member",
        "--protocol HTTP --protocol-port 80 --connection-limit 50 {lb}",
        ("--name http", "name", "http"), ("--connection-limit", "connection_limit", -1),
    ),
    CliObject(
        "https", f"{LB} listener", "member",
        "--protocol TERMINATED_HTTPS --protocol-port 443 "
        "--default-tls-container-ref {certificate} {lb}",
        ("--tls-version TLSv1.3", "tls_versions", ["TLSv1.3"]), ("--name", "name", ""),
    ),
    CliObject(
        "pool", f"{LB} pool", "member",
        "--lb-algorithm ROUND_ROBIN --protocol HTTP --listener {listener} --description d",
        ("--lb-algorithm LEAST_CONNECTIONS", "lb_algorithm", "LEAST_CONNECTIONS"),
        ("--description", "description", ""),
    ),
    CliObject(
        "member", f"{LB} member", "member",
        "--address 127.0.0.1 --protocol-port 8080 --weight 3 {pool}",
        ("--name m1", "name", "m1"), ("--weight", "weight", 1), parent="pool",
    ),
    CliObject(
        "healthmonitor", f"{LB} healthmonitor", "member",
        "--delay 5 --timeout 3 --max-retries 3 --type HTTP --url-path /health {pool}",
        ("--delay 7", "delay", 7), ("--url-path", "url_path", "/"),
    ),
    CliObject(
        "l7policy", f"{LB} l7policy", "member",
        "--action REDIRECT_TO_POOL --redirect-pool {pool} --description d {listener}",
        ("--name api", "name", "api"), ("--description", "description", ""),
    ),
    CliObject(
        "l7rule", f"{LB} l7rule", "member",
        "--compare-type STARTS_WITH --type PATH --value /api --invert {l7policy}",
        ("--value /v2", "value", "/v2"), ("--invert", "invert", False), parent="l7policy",
    ),
]  # fmt: skip


def test_the_installed_openstack_script_answers_as_the_forked_commands_do(clouds: Clouds) -> None:
    lb = clouds.osc(
        "member", LB, "create", "--name", "script", "--vip-subnet-id", clouds.subnet, *JSON
    )
    script = subprocess.run(
        [OPENSTACK, "--os-cloud", "member", LB, "show", lb["id"], *JSON],
        capture_output=True, text=True, timeout=180, cwd=clouds.path.parent,
        env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds.path)},
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    forked = clouds.run("member", LB, "show", lb["id"], *JSON)
    assert forked.returncode == 0, forked.stderr
    drop = ("provisioning_status", "operating_status", "updated_at")
    assert {k: v for k, v in json.loads(script.stdout).items() if k not in drop} == {
        k: v for k, v in json.loads(forked.stdout).items() if k not in drop
    }
    assert json.loads(forked.stdout)["name"] == "script"
    missing = clouds.run("member", LB, "show", "no-such-lb")
    assert missing.returncode == 1 and "no-such-lb" in missing.stderr
    clouds.osc("member", LB, "delete", lb["id"], "--wait")


def test_openstack_cli_manages_every_object_type(clouds: Clouds) -> None:
    """Per type: create, list, set, unset, show (what set left and unset reset), delete.
    Only the load balancer's create and the deletes wait: writes to a busy load balancer
    queue up in Steelyard instead of failing with 409."""
    ids: Ids = {"subnet": clouds.subnet, "certificate": clouds.certificate}
    for obj in CLI_OBJECTS:
        noun = obj.noun.split()
        parent = [ids[obj.parent]] if obj.parent else []
        wait = ["--wait"] if obj.key == "lb" else []
        created = clouds.osc(obj.cloud, *noun, "create", *obj.args(obj.create, ids), *wait, *JSON)
        ids[obj.key] = created[obj.ident]
        listed = clouds.osc(obj.cloud, *noun, "list", *parent, *JSON)
        assert ids[obj.key] in [item[obj.ident] for item in listed], obj.key
        changes = {"set": obj.set, "unset": obj.unset}
        for verb, change in changes.items():
            if change is not None:
                clouds.osc(obj.cloud, *noun, verb, *obj.ref(ids), *obj.args(change[0], ids))
        shown = clouds.osc(obj.cloud, *noun, "show", *obj.ref(ids), *JSON)
        assert shown[obj.ident] == ids[obj.key], obj.key
        for _, attribute, value in filter(None, changes.values()):
            assert shown[attribute] == value, (obj.key, attribute, shown)
    lb = clouds.osc("member", LB, "show", ids["lb"], *JSON)
    assert lb["provisioning_status"] in ("ACTIVE", "PENDING_UPDATE")
    assert lb["flavor_id"] == ids["flavor"]
    assert clouds.osc("member", LB, "stats", "show", ids["lb"], *JSON)["bytes_in"] >= 0
    status = json.loads(clouds.run("member", LB, "status", "show", ids["lb"]).stdout)
    assert status["loadbalancer"]["listeners"][0]["id"] == ids["listener"]

    for obj in reversed(CLI_OBJECTS):
        wait = ["--wait"] if obj.waits else []
        clouds.osc(obj.cloud, *obj.noun.split(), "delete", *obj.ref(ids), *wait)
    assert ids["lb"] not in [item["id"] for item in clouds.osc("member", LB, "list", *JSON)]


def test_openstack_cli_quotas_providers_and_roles(clouds: Clouds) -> None:
    quota = (LB, "quota")
    clouds.osc("admin", *quota, "set", "--loadbalancer", "50", "--member", "9", PROJECT)
    shown = clouds.osc("member", *quota, "show", PROJECT, "-f", "json")
    assert (shown["load_balancer"], shown["member"]) == (50, 9)
    clouds.osc("admin", *quota, "unset", "--member", PROJECT)
    assert clouds.osc("admin", *quota, "show", PROJECT, "-f", "json")["member"] == -1
    assert PROJECT in [q["project_id"] for q in clouds.osc("admin", *quota, "list", "-f", "json")]
    clouds.osc("admin", *quota, "reset", PROJECT)
    assert clouds.osc("admin", *quota, "defaults", "show", "-f", "json")["load_balancer"] == -1

    providers = clouds.osc("reader", LB, "provider", "list", "-f", "json")
    assert "appliance" in [p["name"] for p in providers]
    capabilities = clouds.osc(
        "admin", LB, "provider", "capability", "list", "--flavor", "appliance", "-f", "json"
    )
    assert "loadbalancer_topology" in [c["name"] for c in capabilities]

    refused = clouds.run("reader", LB, "create", "--vip-subnet-id", clouds.subnet)
    assert refused.returncode != 0
    assert "Policy does not allow this request to be performed. (HTTP 403)" in refused.stderr
    other = clouds.run("member", LB, "quota", "set", "--loadbalancer", "1", PROJECT)
    assert "(HTTP 403)" in other.stderr


def test_openstack_cli_without_keystone_auth(clouds: Clouds, noauth_server: ServerHandle) -> None:
    """`auth_type: none` (noauth): an admin without a project, who names one with --project."""
    with noauth_server.api(project=None) as api:
        subnet = api.get("/v2/steelyard/subnets").json()["subnets"][0]["id"]
    missing = clouds.run("none", LB, "create", "--vip-subnet-id", subnet)
    assert "Missing project ID" in missing.stderr
    lb = clouds.osc(
        "none", LB, "create", "--project", "p9", "--vip-subnet-id", subnet, "--wait", "-f", "json"
    )
    assert lb["project_id"] == "p9" and lb["provisioning_status"] == "ACTIVE"
    assert lb["id"] in [item["id"] for item in clouds.osc("none", LB, "list", "-f", "json")]
    clouds.osc("none", LB, "delete", "--cascade", "--wait", lb["id"])


# --- openstacksdk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """In a create body: the ID made for another entry."""

    key: str


@dataclass(frozen=True)
class SdkObject:
    key: str
    kind: str  # the proxy's name for it: create_<kind>, get_<kind>, update_<kind>, ...
    many: str  # its list method
    cloud: str
    create: dict[str, Any]
    update: dict[str, Any]  # set ...
    restore: dict[str, Any]  # ... and back
    parent: str | None = None  # passed first (a member's pool, an L7 rule's policy)
    waits: bool = True  # the load balancer is PENDING_UPDATE after a change

    def body(self, ids: Ids) -> dict[str, Any]:
        return {k: ids[v.key] if isinstance(v, Ref) else v for k, v in self.create.items()}


SDK_OBJECTS = [
    SdkObject(
        "flavor_profile", "flavor_profile", "flavor_profiles", "admin",
        {"name": "sdk-fp", "provider_name": "appliance", "flavor_data": SINGLE},
        {"name": "sdk-fp2"}, {"name": "sdk-fp"}, waits=False,
    ),
    SdkObject(
        "flavor", "flavor", "flavors", "admin",
        {"name": "sdk-single", "flavor_profile_id": Ref("flavor_profile"), "is_enabled": True},
        {"description": "one appliance"}, {"description": ""}, waits=False,
    ),
    SdkObject(
        "az_profile", "availability_zone_profile", "availability_zone_profiles", "admin",
        {"name": "sdk-azp", "provider_name": "appliance", "availability_zone_data": "{}"},
        {"name": "sdk-azp2"}, {"name": "sdk-azp"}, waits=False,
    ),
    SdkObject(
        "lb", "load_balancer", "load_balancers", "member",
        {"name": "sdk-web", "vip_subnet_id": Ref("subnet"), "flavor_id": Ref("flavor")},
        {"description": "front"}, {"description": ""},
    ),
    SdkObject(
        "listener", "listener", "listeners", "member",
        {"protocol": "HTTP", "protocol_port": 8080, "load_balancer_id": Ref("lb")},
        {"connection_limit": 100}, {"connection_limit": -1},
    ),
    SdkObject(
        "pool", "pool", "pools", "member",
        {"lb_algorithm": "ROUND_ROBIN", "protocol": "HTTP", "listener_id": Ref("listener")},
        {"lb_algorithm": "SOURCE_IP"}, {"lb_algorithm": "ROUND_ROBIN"},
    ),
    SdkObject(
        "member", "member", "members", "member",
        {"address": "127.0.0.1", "protocol_port": 8081, "weight": 3},
        {"weight": 5}, {"weight": 1}, parent="pool",
    ),
    SdkObject(
        "healthmonitor", "health_monitor", "health_monitors", "member",
        {"pool_id": Ref("pool"), "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3},
        {"delay": 7}, {"delay": 5},
    ),
    SdkObject(
        "l7policy", "l7_policy", "l7_policies", "member",
        {"listener_id": Ref("listener"), "action": "REJECT", "name": "sdk-deny"},
        {"description": "no"}, {"description": ""},
    ),
    SdkObject(
        "l7rule", "l7_rule", "l7_rules", "member",
        {"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "admin.example.com"},
        {"invert": True}, {"invert": False}, parent="l7policy",
    ),
]  # fmt: skip


def _connect(clouds: Clouds, cloud: str) -> Any:
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds.path)
    return openstack.connect(cloud=cloud)


def test_openstacksdk_manages_every_object_type(clouds: Clouds) -> None:
    """Per type: create, get, list, update and back, delete (the SDK has no unset)."""
    conns = {cloud: _connect(clouds, cloud).load_balancer for cloud in ("member", "admin")}
    member, admin = conns["member"], conns["admin"]
    ids: Ids = {"subnet": clouds.subnet}
    for obj in SDK_OBJECTS:
        proxy = conns[obj.cloud]
        parent = [ids[obj.parent]] if obj.parent else []
        created = getattr(proxy, f"create_{obj.kind}")(*parent, **obj.body(ids))
        ids[obj.key] = created.id
        if obj.waits:
            member.wait_for_load_balancer(ids["lb"], wait=120)
        assert getattr(proxy, f"get_{obj.kind}")(created, *parent).id == created.id, obj.key
        assert created.id in [item.id for item in getattr(proxy, obj.many)(*parent)], obj.key
        for change in (obj.update, obj.restore):
            updated = getattr(proxy, f"update_{obj.kind}")(created, *parent, **change)
            assert {name: getattr(updated, name) for name in change} == change, obj.key
    lb = member.wait_for_load_balancer(ids["lb"], wait=120)
    assert lb.provisioning_status == "ACTIVE" and lb.flavor_id == ids["flavor"]
    assert member.get_load_balancer_statistics(ids["lb"]).bytes_in >= 0
    assert member.get_listener_statistics(ids["listener"]).total_connections >= 0
    assert "appliance" in [p.name for p in member.providers()]
    quota = admin.update_quota(PROJECT, load_balancers=20, members=9)
    assert admin.get_quota(PROJECT).load_balancers == quota.load_balancers == 20
    assert PROJECT in [q.project_id for q in admin.quotas()]
    admin.delete_quota(PROJECT)
    assert admin.get_quota(PROJECT).members == admin.get_quota_default().members == -1

    for obj in reversed(SDK_OBJECTS):
        proxy, parent = conns[obj.cloud], [ids[obj.parent]] if obj.parent else []
        getattr(proxy, f"delete_{obj.kind}")(ids[obj.key], *parent)
        listed = getattr(proxy, obj.many)
        gone = functools.partial(_gone, listed, parent, ids[obj.key])
        wait_until(gone, timeout_s=120)


def _gone(listed: Callable[..., Iterator[Any]], parent: list[str], ident: str) -> bool:
    return ident not in [item.id for item in listed(*parent)]


def test_openstacksdk_without_keystone_auth(clouds: Clouds, noauth_server: ServerHandle) -> None:
    conn = _connect(clouds, "none").load_balancer
    with noauth_server.api(project=None) as api:
        subnet = api.get("/v2/steelyard/subnets").json()["subnets"][0]["id"]
    lb = conn.create_load_balancer(project_id="p-sdk", vip_subnet_id=subnet, name="sdk")
    assert conn.wait_for_load_balancer(lb.id, wait=120).provisioning_status == "ACTIVE"
    assert lb.id in [item.id for item in conn.load_balancers(project_id="p-sdk")]
    conn.delete_load_balancer(lb, cascade=True)
    conn.wait_for_delete(lb, wait=120)
