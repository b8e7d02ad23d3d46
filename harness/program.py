"""The real program under Pulumi's mocks: the mocks play the providers
(pulumi-command runs the real scripts against the stand-in CLIs, Helm reports
a deployed release), a monitor records every registration, and `run_program`
runs __main__.py in this process as `pulumi up` or `preview` would."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import runpy
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from components.checks import download
from components.shell import stack_owner
from harness.config import PROJECT, REPO, CliRefusedError, cli_config_error, stack_config
from harness.kinds import COMMAND, PROVIDER, RELEASE
from harness.servers import serve_directory
from harness.tls import TLS_TYPES, tls_resource
from harness.world import fake_environment, mirrored_reader, publish_chart_repositories, run_shell

# What the Python SDK reports as the organization when the engine names none
# (pulumi/runtime/settings.py, Settings defaults), as on a DIY state backend.
ORGANIZATION = "organization"
BACKEND_URL = "PULUMI_BACKEND_URL"


def owner_of(stack: str, backend_url: str = "") -> str:
    """The owner line a stack's run under the mocks writes into its profile."""
    return stack_owner(ORGANIZATION, PROJECT, stack, backend_url)


def unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """Inputs as the provider sees them, and whether any part was a secret."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return unwrap_secrets(value["value"])[0], True
        pairs = {key: unwrap_secrets(item) for key, item in value.items()}
        return {key: pair[0] for key, pair in pairs.items()}, any(pair[1] for pair in pairs.values())
    if isinstance(value, list):
        items = [unwrap_secrets(item) for item in value]
        return [item[0] for item in items], any(item[1] for item in items)
    return value, False


def secret_paths(value: Any, path: str = "") -> set[str]:
    """The dotted paths of the secret values inside deserialized inputs."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return {path}
        return set().union(*(secret_paths(item, f"{path}.{key}".lstrip(".")) for key, item in value.items()))
    if isinstance(value, list):
        return set().union(*(secret_paths(item, f"{path}[{index}]") for index, item in enumerate(value)))
    return set()


@dataclass
class Registration:
    """What the SDK sent the engine for one resource, as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    dependencies: list[str]
    deleted_with: str
    delete_before_replace: bool
    inputs: dict[str, Any]
    secret_inputs: set[str]
    # The URN the engine gives it (the mocks' `urn` names only the parent's own type),
    # and the old URNs the engine would match its state by besides that one.
    engine_urn: str
    aliases: list[str]


def _urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """A resource's URN as the engine makes it: its parent's whole type chain,
    none under the stack (pulumi/pulumi pkg/resource/deploy/deployment.go
    generateURN), then its own type and name (sdk/go/common/resource/urn.go NewURN)."""
    if not parent or parent.split("::")[2] == "pulumi:pulumi:Stack":
        return f"urn:pulumi:{stack}::{project}::{type_}::{name}"
    return f"{parent[: parent.rindex('::')]}${type_}::{name}"


def _urn_name(urn: str) -> str:
    return urn[urn.rindex("::") + 2 :]


def _urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        # By the mocks' URN: the engine's URN, and the engine's aliases.
        self._engine_urns: dict[str, str] = {}
        self._aliases: dict[str, list[str]] = {}

    def _engine_urn(self, request: Any, urn: str) -> str:
        stack, project = urn.split("::")[0].split(":")[2], urn.split("::")[1]
        parent = self._engine_urns.get(request.parent, request.parent)
        self._engine_urns[urn] = _urn(stack, project, parent, request.type, request.name)
        return self._engine_urns[urn]

    def _alias_urns(self, request: Any, urn: str) -> list[str]:
        """The engine's aliases of a resource (pulumi/pulumi pkg/resource/deploy/
        step_generator.go generateAliases): each alias spec collapsed to a URN
        (name, type and parent default to the resource's own), then each of
        those and the resource's own name under each alias of its parent, a
        name that starts with the parent's name taking the parent alias's name
        instead (inheritedChildAlias). The engine uses the parent's alias that
        matched its old state; every alias of the parent is tried here."""
        stack, project = urn.split("::")[0].split(":")[2], urn.split("::")[1]
        own: list[str] = []
        for alias in request.aliases:
            if alias.urn:
                own.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else self._engine_urns.get(spec.parentUrn or request.parent, request.parent)
            own.append(
                _urn(
                    spec.stack or stack,
                    spec.project or project,
                    parent,
                    spec.type or request.type,
                    spec.name or request.name,
                )
            )
        found = list(dict.fromkeys(own))
        parent_name = request.parent and _urn_name(request.parent)
        for parent_alias in self._aliases.get(request.parent, []):
            for type_, name in [(request.type, request.name), *((_urn_type(u), _urn_name(u)) for u in own)]:
                if parent_name and name.startswith(parent_name):
                    name = _urn_name(parent_alias) + name[len(parent_name) :]
                inherited = _urn(stack, project, parent_alias, type_, name)
                if inherited not in found:
                    found.append(inherited)
        self._aliases[urn] = found
        return found

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    provider=request.provider,
                    # A set to the engine; the SDK sends it in no fixed order.
                    dependencies=sorted(request.dependencies),
                    deleted_with=request.deletedWith,
                    delete_before_replace=request.deleteBeforeReplace,
                    inputs=unwrap_secrets(rpc.deserialize_properties(request.object))[0],
                    secret_inputs=secret_paths(rpc.deserialize_properties(request.object)),
                    engine_urn=self._engine_urn(request, response.urn),
                    aliases=self._alias_urns(request, response.urn),
                )
            )
        return response


# The status.loadBalancer.ingress list (JSON) a cluster's own load balancer
# gives the ingress Service when MetalLB does not (loadBalancer: none).
CLUSTER_LOAD_BALANCER = "FAKE_CLUSTER_LOAD_BALANCER_INGRESS"
# The ingress gateway's Service, by the ID a read names it with.
INGRESS_SERVICE = "istio-system/istio-ingressgateway"
# The Secret type whose data Kubernetes' token controller fills in.
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"


class LocalMeshMocks(pulumi_mocks.Mocks):
    """Plays the providers: pulumi-command runs its commands for real (against
    the stand-in CLIs), Helm reports a deployed release, and the ingress Service
    reports the first address of the MetalLB pool, as MetalLB assigns it."""

    def __init__(
        self,
        environment: Mapping[str, str],
        preview: bool,
        prior_state: Mapping[tuple[str, str], dict[str, Any]] | None = None,
    ) -> None:
        self.environment = dict(environment)
        self.preview = preview
        # What an earlier `pulumi up` left in the state, by (type, name).
        self.prior_state = dict(prior_state or {})
        self.state: dict[tuple[str, str], dict[str, Any]] = {}
        self.pool_first_address: str | None = None
        # By provider (one a cluster): its pool's first address, and the
        # address MetalLB gave each LoadBalancer Service read there, in order.
        self.pool_starts: dict[str, IPv4Address] = {}
        self.assigned: dict[str, dict[str, str]] = {}
        self.commands_run: list[str] = []
        # The arguments of every `command:local:run` invoke, as the provider receives them.
        self.invokes: list[dict[str, Any]] = []
        self.reads: list[pulumi_mocks.MockResourceArgs] = []
        # Resource transforms by resource name: the engine would run them on the
        # resource and its children; the mocks keep them so tests can run them.
        self.transforms: dict[str, list[Any]] = {}

    def _run(self, command: str, inputs: Mapping[str, Any]) -> dict[str, str]:
        environment = {**self.environment, **(inputs.get("environment") or {})}
        result = run_shell(command, environment, inputs.get("interpreter"))
        if result.returncode != 0:
            raise RuntimeError(f"command exited {result.returncode}: {result.stderr.strip()}")
        return {"stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap_secrets(dict(args.inputs))[0]
        if args.resource_id == rpc.UNKNOWN:
            # The engine skips a read whose ID is not known yet (pulumi/pulumi#16395).
            return "", {}
        if args.resource_id:  # a read (`Service.get`)
            self.reads.append(args)
            return args.resource_id, self._read(args)
        if args.transforms:
            self.transforms[args.name] = list(args.transforms)
        if not args.custom:  # a component: the engine keeps no state for it
            return None, {}
        prior = self.prior_state.get((args.typ, args.name))
        if self.preview and prior is not None:
            # A preview of a resource an earlier up made keeps its ID; pulumi-command's
            # Command runs nothing in a preview and keeps its earlier stdout and
            # stderr (provider/pkg/provider/local/commandController.go:34-90, v1.2.1).
            self.state[(args.typ, args.name)] = prior
            return f"{args.name}-id", {**inputs, "stdout": prior["stdout"], "stderr": prior["stderr"]}
        if self.preview:
            # A first preview creates nothing: no ID, outputs only as known as the inputs.
            return None, inputs
        if args.typ == COMMAND:
            outputs = self._command(args.name, inputs)
            self.state[(args.typ, args.name)] = outputs
            return f"{args.name}-id", outputs
        if args.typ == RELEASE:
            status = {
                "name": inputs["name"],
                "namespace": inputs["namespace"],
                "status": "deployed",
                "version": inputs["version"],
            }
            return f"{inputs['namespace']}/{inputs['name']}", {**inputs, "status": status}
        if args.typ == "kubernetes:metallb.io/v1beta1:IPAddressPool":
            first = inputs["spec"]["addresses"][0].split("-")[0]
            self.pool_first_address = str(IPv4Address(first))
            self.pool_starts[str(args.provider)] = IPv4Address(first)
            return f"metallb-system/{args.name}", inputs
        if args.typ in TLS_TYPES:
            # The provider changes nothing while the inputs are unchanged: the
            # keys and certificates of an earlier up stay.
            prior_outputs = self.prior_state.get((args.typ, args.name))
            if prior_outputs is not None and {k: prior_outputs.get(k) for k in inputs} == inputs:
                outputs = prior_outputs
            else:
                outputs = tls_resource(args.typ, inputs)
            self.state[(args.typ, args.name)] = outputs
            return f"{args.name}-id", outputs
        if args.typ == "kubernetes:core/v1:Secret" and inputs.get("type") == SERVICE_ACCOUNT_TOKEN:
            return f"{args.name}-id", {**inputs, "data": self._token_data(args, inputs)}
        if args.typ.startswith("kubernetes:") or args.typ == PROVIDER:
            # Other Kubernetes objects: the provider reports them as applied.
            return f"{args.name}-id", inputs
        raise NotImplementedError(f"the mocks do not know resource type {args.typ}: teach harness/program.py")

    def _command(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """pulumi-command's lifecycle: create once; nothing while the inputs are
        unchanged; replace (delete first, here) when a trigger changes; otherwise
        run `update`, or `create` again when there is no update command."""
        prior = self.prior_state.get((COMMAND, name))
        prior_inputs = {key: value for key, value in (prior or {}).items() if key not in ("stdout", "stderr")}
        if prior is not None and prior_inputs == inputs:
            return prior
        if prior is not None and prior.get("triggers") != inputs.get("triggers") and prior.get("delete"):
            # A Command without `delete` runs nothing when it is replaced or deleted.
            self.commands_run.append(f"{name}:delete")
            self._run(prior["delete"], prior)
        self.commands_run.append(name)
        script = inputs.get("update") if prior is not None and prior.get("triggers") == inputs.get("triggers") else None
        return {**inputs, **self._run(script or inputs["create"], inputs)}

    def _token_data(self, args: pulumi_mocks.MockResourceArgs, inputs: Mapping[str, Any]) -> dict[str, str]:
        """What Kubernetes' token controller writes into a service-account-token
        Secret (base64, as a Secret's `data`: `token`, `ca.crt`, `namespace`),
        here naming the cluster (its provider) and the service account, so a
        test can tell whose token a kubeconfig carries."""
        metadata = inputs.get("metadata") or {}
        account = (metadata.get("annotations") or {}).get("kubernetes.io/service-account.name", "")
        cluster = _urn_name(str(args.provider).rsplit("::", 1)[0])
        values = {
            "token": f"token-of-{account}-in-{cluster}",
            "ca.crt": f"-----BEGIN CERTIFICATE-----\nca-of-{cluster}\n-----END CERTIFICATE-----\n",
            "namespace": str(metadata.get("namespace", "")),
        }
        return {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}

    def _read(self, args: pulumi_mocks.MockResourceArgs) -> dict[str, Any]:
        if args.typ != "kubernetes:core/v1:Service":
            raise NotImplementedError(f"the mocks cannot read {args.typ}")
        namespace, name = str(args.resource_id).split("/")
        # MetalLB's next address in this cluster's pool (the first Service read
        # there gets its first address), or what the cluster's own load balancer
        # gives (a test sets it: a cloud's ELB gives a hostname).
        start = self.pool_starts.get(str(args.provider))
        if start is not None:
            # The ingress gateway's Service first (as a cluster of its own has
            # it), then the others in the order they are read.
            assigned = self.assigned.setdefault(str(args.provider), {})
            if str(args.resource_id) not in assigned:
                others = sum(1 for service in assigned if service != INGRESS_SERVICE)
                offset = 0 if str(args.resource_id) == INGRESS_SERVICE else 1 + others
                assigned[str(args.resource_id)] = str(start + offset)
            ingress = [{"ip": assigned[str(args.resource_id)]}]
        else:
            ingress = (
                [{"ip": self.pool_first_address}]
                if self.pool_first_address
                else json.loads(self.environment.get(CLUSTER_LOAD_BALANCER, "[]"))
            )
        return {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": ingress}},
        }

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "command:local:run":
            self.commands_run.append("run")
            run_args = unwrap_secrets(dict(args.args))[0]
            self.invokes.append(run_args)
            return self._run(run_args["command"], run_args), []
        raise NotImplementedError(f"the mocks do not know function {args.token}")


def as_the_cli_shows(failure: BaseException) -> str:
    """How the Python language host reports an exception that stopped the
    program (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec, the
    except clauses of its main, at sdk 3.260.0; the CLI ships it): a
    pulumi.RunError as its message alone, anything else as "Program failed
    with an unhandled exception:" and the traceback. The CLI prints it under
    the stack's row of "Diagnostics:", after "error: "."""
    if isinstance(failure, pulumi.RunError):
        return str(failure)
    return "Program failed with an unhandled exception:\n" + "".join(traceback.format_exception(failure))


class ProgramFailedError(Exception):
    """The program stopped; `registrations` is what it had registered by then."""

    def __init__(self, cause: BaseException, registrations: list[Registration]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.registrations = registrations


@dataclass
class ProgramRun:
    registrations: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    mocks: LocalMeshMocks

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def releases(self) -> dict[str, Registration]:
        """The Helm releases, by release name."""
        return {r.inputs["name"]: r for r in self.of_type(RELEASE)}

    def depends_on(self, resource: Registration, other: Registration) -> bool:
        """True if `resource` waits for `other`, directly or through its dependencies."""
        by_urn = {r.urn: r for r in self.registrations}
        pending, seen = list(resource.dependencies), set()
        while pending:
            urn = pending.pop()
            if urn == other.urn:
                return True
            if urn not in seen and urn in by_urn:
                seen.add(urn)
                pending.extend(by_urn[urn].dependencies)
        return False

    def find(self, type_: str, name: str) -> Registration:
        """The one resource of this type and name."""
        (match,) = [r for r in self.of_type(type_) if r.name == name]
        return match

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]


def destroy(run: ProgramRun) -> None:
    """What `pulumi destroy` of the state `run` left runs on the host: the
    `delete` of every Command that has one, with the inputs in the state
    (pulumi-command provider/pkg/provider/local/commandController.go:93-99,
    v1.2.1); a Command without `delete` runs nothing, and what is `deleted_with`
    the cluster goes with it."""
    for (type_, _name), outputs in run.mocks.state.items():
        if type_ == COMMAND and outputs.get("delete"):
            run.mocks._run(outputs["delete"], outputs)


class _ClosingEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Remembers every event loop it makes, in any thread, to close them all."""

    def __init__(self) -> None:
        super().__init__()
        self._loops: list[asyncio.AbstractEventLoop] = []

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        self._loops.append(loop)
        return loop

    def close_every_loop(self) -> None:
        for loop in self._loops:
            if not loop.is_closed():
                loop.close()


def run_program(
    stack: str,
    fake_root: Path,
    overrides: Mapping[str, Any] | None = None,
    preview: bool = False,
    machine: Mapping[str, str] | None = None,
    after: ProgramRun | None = None,
    program: Path = REPO / "__main__.py",
) -> ProgramRun:
    """Run the real __main__.py under mocks, as `pulumi up` (or preview) would.

    `machine` adds environment variables that shape the stand-in laptop
    (for example FAKE_DOCKER_CPUS). `after` is an earlier run whose state this
    run starts from, as a second `pulumi up` does. `program` replaces
    __main__.py with another program of the same components. A value the CLI's own type
    check refuses stops it before the program, as the CLI does."""
    refused = cli_config_error(stack, stack_config(stack, overrides))
    if refused is not None:
        raise CliRefusedError(refused)
    environment = {**fake_environment(fake_root), **(machine or {})}
    mocks = LocalMeshMocks(environment, preview, after.mocks.state if after else None)
    monitor = RecordingMonitor(mocks)
    # The SDK's RPC threads each make an event loop of their own and never
    # close it (pulumi/runtime/sync_await.py, _ensure_event_loop). Left to the
    # garbage collector, such a loop can be collected after its own self-pipe
    # socket and fail in __del__ ("Invalid file descriptor"): every loop made
    # during the run is closed when the run ends.
    previous_policy = asyncio.get_event_loop_policy()
    policy = _ClosingEventLoopPolicy()
    asyncio.set_event_loop_policy(policy)
    loop = asyncio.new_event_loop()
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="pulumi-rpc")
    loop.set_default_executor(executor)
    # A failed program leaves failed futures behind; the failure itself is
    # raised below, so their "exception was never retrieved" notices are noise.
    loop.set_exception_handler(lambda _loop, _context: None)
    asyncio.set_event_loop(loop)
    pulumi.runtime.settings.reset_options()
    pulumi.runtime.set_all_config(stack_config(stack, overrides))
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, organization=ORGANIZATION
    )
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    saved_environ = dict(os.environ)
    # The CLI's passphrase reaches the program only as a test sets it (`machine`).
    for variable in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        os.environ.pop(variable, None)
    cleanup = contextlib.ExitStack()
    mirror, _, _ = cleanup.enter_context(serve_directory(publish_chart_repositories(fake_root)))
    # The program's own subprocesses (pre-flight) see the stand-in CLIs too.
    os.environ.update(environment)
    # Its downloads (chart indexes, the Gateway API CRDs, Istio's dashboards)
    # read the stand-in copies instead of the network: the program runs in this
    # process (runpy), so replacing the one download door reaches every caller.
    cleanup.enter_context(mock.patch.object(download, "download_text", mirrored_reader(mirror)))
    # The state backend is part of a stack's owner line: only `machine` sets it
    # (make test itself runs with the Makefile's PULUMI_BACKEND_URL).
    if BACKEND_URL not in environment:
        os.environ.pop(BACKEND_URL, None)
    try:
        try:
            runpy.run_path(str(program), run_name="__main__")
        except Exception as failure:
            # Let what was already queued finish, as the language host would, then fail.
            with contextlib.suppress(Exception):
                loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
            raise ProgramFailedError(failure, monitor.registrations) from failure
        try:
            loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
        except Exception as failure:
            raise ProgramFailedError(failure, monitor.registrations) from failure
        stack_resource = pulumi.runtime.settings.get_root_resource()
        assert isinstance(stack_resource, pulumi.runtime.stack.Stack)
        outputs: dict[str, Any] = {}
        secret_outputs: set[str] = set()
        for name, value in stack_resource.outputs.items():
            output = pulumi.Output.from_input(value)
            resolved = loop.run_until_complete(output.future())
            if resolved is None:
                # The SDK sends a None output as absent (pulumi/runtime/rpc.py
                # serialize_properties): the stack has no such output.
                continue
            outputs[name] = resolved
            if loop.run_until_complete(output.is_secret()):
                secret_outputs.add(name)
    finally:
        executor.shutdown(wait=True)
        cleanup.close()
        policy.close_every_loop()
        asyncio.set_event_loop_policy(previous_policy)
        os.environ.clear()
        os.environ.update(saved_environ)
    return ProgramRun(monitor.registrations, outputs, secret_outputs, mocks)
