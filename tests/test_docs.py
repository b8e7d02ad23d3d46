"""The README and the pages of docs/ say what the code does: config keys and
defaults, outputs, and the test command CI runs."""

from __future__ import annotations

import re

import pytest

from components.checks.host import MINIMUM_TOOL_VERSIONS, TOOL_VERSIONS_FILE, read_tool_versions
from components.model.footprint import total
from components.model.plan import release_plan
from components.model.settings import CONFIG_KEYS, DRIVERS, ISTIO_PROFILES, ConfigError, parse_settings
from components.observability import DASHBOARDS
from harness.config import REPO, cli_accepts, cli_config_error, project_defaults, pulumi_project, raw_config
from harness.program import as_the_cli_shows

README = (REPO / "README.md").read_text()


def page(name: str) -> str:
    """A page of docs/ (the README links each)."""
    return (REPO / "docs" / name).read_text()


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lowercased, punctuation
    dropped, spaces made hyphens (github-slugger)."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_the_readme_links_every_docs_page() -> None:
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", README))
    assert linked == {path.name for path in (REPO / "docs").glob("*.md")}


def test_every_link_between_the_pages_reaches_a_page_and_its_heading() -> None:
    broken = []
    for source in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", source.read_text()):
            if re.match(r"\w+://", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (source.parent / path).resolve() if path else source
            if not linked.is_file() or (anchor and anchor not in heading_anchors(linked.read_text())):
                broken.append(f"{source.name}: {target}")
    assert broken == []


def readme_config_table() -> dict[str, str]:
    section = page("configuration.md").split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", section, re.MULTILINE)
    return {key: default.strip('"') for key, default in rows}


def test_readme_config_table_matches_pulumi_yaml() -> None:
    project_keys = project_defaults()
    assert readme_config_table() == project_keys
    assert tuple(project_keys) == CONFIG_KEYS


def test_readme_lists_the_accepted_drivers_and_profiles() -> None:
    table = page("configuration.md")
    assert ", ".join(DRIVERS) in table
    for profile in ISTIO_PROFILES:
        assert f"`{profile}`" in table


def test_readme_names_every_stack_output() -> None:
    exported = re.findall(r'self\.outputs\["(\w+)"\]', (REPO / "components" / "mesh.py").read_text()) + list(DASHBOARDS)
    outputs_line = README.split("Stack outputs:", 1)[1].split("\n\n", 1)[0]
    assert sorted(re.findall(r"`(\w+)`", outputs_line)) == sorted(exported)


def test_setup_is_two_commands_and_ci_runs_the_test_one() -> None:
    block = README.split("## Two commands", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make up", "make test"]
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test"


def test_readme_prerequisites_match_the_preflight_minimums() -> None:
    section = page("prerequisites.md")
    for tool, minimum in MINIMUM_TOOL_VERSIONS.items():
        dotted = ".".join(str(part) for part in minimum)
        assert re.search(
            rf"^\| [^|]*{tool}[^|]* \| {re.escape(dotted)} or newer", section, re.MULTILINE | re.IGNORECASE
        ), tool


def test_readme_profile_table_matches_the_footprint() -> None:
    section = page("configuration.md").split("## Profiles and what they ask of the node", 1)[1].split("\n## ", 1)[0]
    rows = {row[0]: row for row in re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \| ([^|]+) \|$", section, re.MULTILINE)}
    rows.pop("istioProfile")  # the header
    assert sorted(rows) == sorted(ISTIO_PROFILES)
    for profile, lean, istio in rows.values():
        for resources, cell in (("lean", lean), ("istio", istio)):
            settings = parse_settings(
                {
                    **{key: str(value) for key, value in project_defaults().items()},
                    "istioProfile": profile,
                    "resources": resources,
                    "observability": "none",
                },
                "dev",
            )
            assert cell.strip() == str(total(settings, release_plan(settings))), (profile, resources)


def test_readme_names_the_versions_make_up_fetches() -> None:
    pinned = read_tool_versions(TOOL_VERSIONS_FILE.read_text())
    fetched = ", ".join(f"{tool.lower()} {pinned[f'{tool}_PINNED']}" for tool in ("MINIKUBE", "KUBECTL", "PULUMI"))
    assert f"({fetched})" in " ".join(page("prerequisites.md").split())


def test_readme_layout_names_every_module_and_tool() -> None:
    layout = page("layout.md")
    files = [*(REPO / "components").glob("*.py"), *(REPO / "components").glob("*.env"), *(REPO / "tools").iterdir()]
    unnamed = [path.name for path in files if path.name != "__init__.py" and path.is_file() and path.name not in layout]
    assert unnamed == []


def test_readme_states_what_the_default_stack_with_its_dashboards_requests() -> None:
    settings = parse_settings(dict(project_defaults()), "dev")
    requests = total(settings, release_plan(settings))
    section = page("dashboards.md")
    assert f"requests {requests.cpu_millis}m CPU and {requests.memory_mib}Mi" in " ".join(section.split())


def troubleshooting() -> str:
    return page("troubleshooting.md")


def test_troubleshooting_shows_no_program_message_the_cli_would_stop_first() -> None:
    # For a key Pulumi.yaml types, a value of another type never reaches the
    # program: the CLI's own check answers, and the README must show that instead.
    declared = pulumi_project()["config"]
    shown = re.findall(r"local-mesh:(\w+) = '([^']*)' is not valid", troubleshooting())
    assert shown
    for key, value in shown:
        assert cli_accepts(declared[key]["type"], value), f"the CLI refuses {key} = {value!r} before the program runs"
    refused = cli_config_error("dev", {"local-mesh:cpus": "four"})
    assert refused is not None and f"`{refused}`" in troubleshooting()


def test_troubleshooting_shows_a_program_error_as_the_cli_prints_it() -> None:
    block = troubleshooting().split("```\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[:2] == ["Diagnostics:", "  pulumi:pulumi:Stack (local-mesh-dev):"]
    value = re.search(r'`pulumi config set memory "([^"]+)"`', troubleshooting())
    assert value is not None
    with pytest.raises(ConfigError) as error:
        parse_settings(raw_config(memory=value.group(1)), "dev")
    assert block[2:] == [f"    error: {as_the_cli_shows(error.value)}"]
