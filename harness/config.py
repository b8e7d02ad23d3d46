"""Config emulation: what the Pulumi CLI hands the program (Pulumi.yaml's
defaults, the stack file, `pulumi config set`), and the CLI's own type check."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from components.model.settings import ISTIO_PROFILES, RESOURCE_PROFILES, Settings, parse_settings

REPO = Path(__file__).resolve().parent.parent


PROJECT = "local-mesh"


@cache
def pulumi_project() -> dict[str, Any]:
    """Pulumi.yaml, the project file the CLI reads."""
    return dict(yaml.safe_load((REPO / "Pulumi.yaml").read_text()))


def project_defaults() -> dict[str, str]:
    """Pulumi.yaml's declared defaults of the project's own keys, as the CLI passes them (strings)."""
    project = pulumi_project()
    return {
        key: value["default"] if isinstance(value["default"], str) else json.dumps(value["default"])
        for key, value in project["config"].items()
        if ":" not in key
    }


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """What the Pulumi CLI hands the program: Pulumi.yaml's defaults, then the
    stack file's values, then `pulumi config set` overrides."""
    project = pulumi_project()
    config: dict[str, Any] = {}
    for key, declaration in project["config"].items():
        if ":" in key:
            config[key] = declaration
        else:
            config[f"{PROJECT}:{key}"] = declaration["default"]
    stack_file = REPO / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        config.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    for key, value in (overrides or {}).items():
        config[key if ":" in key else f"{PROJECT}:{key}"] = value
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def raw_config(stack: str = "dev", **overrides: Any) -> dict[str, str]:
    """The project's config as the program reads it: without the `local-mesh:` prefix."""
    config = stack_config(stack, overrides)
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{PROJECT}:")}


# Every istioProfile x resources the program accepts.
EVERY_COMBINATION = [(profile, resources) for profile in ISTIO_PROFILES for resources in RESOURCE_PROFILES]


def settings(**overrides: Any) -> Settings:
    """The dev stack's settings with Pulumi.yaml's defaults and these overrides."""
    return parse_settings(raw_config(**overrides), "dev")


def settings_for(istio_profile: str = "demo", resources: str = "lean", **overrides: Any) -> Settings:
    """The dev stack's settings for this istioProfile and resources, and these overrides."""
    return parse_settings(raw_config(istioProfile=istio_profile, resources=resources, **overrides), "dev")


class CliRefusedError(Exception):
    """The Pulumi CLI refused the stack's config before it ran the program."""


def cli_accepts(type_name: str, value: str) -> bool:
    """The CLI's check of a stack value against the type Pulumi.yaml declares
    (pulumi/pulumi sdk/go/common/workspace/project.go ValidateConfigValue, at
    sdk 3.260.0): an integer is what Go's strconv.Atoi parses (a sign and
    decimal digits; its int64 range is not modelled), a boolean is the text
    true or false, a string anything."""
    if type_name == "integer":
        return re.fullmatch(r"[+-]?[0-9]+", value) is not None
    if type_name == "boolean":
        return value in ("true", "false")
    return type_name == "string"


def cli_config_error(stack: str, config: Mapping[str, str]) -> str | None:
    """What `pulumi up`/`preview` prints, before the program runs, for the first
    (by key) stack value of the wrong type (pulumi/pulumi pkg/workspace/config.go
    validateStackConfigValue; pkg/cmd/pulumi/operations/up.go and preview.go wrap
    it in "validating stack config: "; cmdutil's error sink adds "error: ")."""
    declared = pulumi_project()["config"]
    for key in sorted(key for key in declared if ":" not in key):
        value = config.get(f"{PROJECT}:{key}")
        if value is not None and not cli_accepts(declared[key]["type"], value):
            return (
                f"error: validating stack config: Stack '{stack}' with configuration key '{key}' "
                f"must be of type '{declared[key]['type']}'"
            )
    return None
