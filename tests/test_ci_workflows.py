"""The GitHub Actions workflows users copy: one test command (the same as .ci/run), OIDC-only deploys of every
stage in the estate's dependency order, prod behind the approval environment, every action pinned."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_estate.config.ci import SERVING_JOB_TIMEOUT_MINUTES, STAGE_MARGIN_MINUTES
from mlops_estate.stacks.ci_access import DEPLOY_ORDER, role_variable
from mlops_estate.stacks.estate import STAGE_NAMES
from tests.helpers import ROOT, config_problems, default_config

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_STAGE_ACTION = ROOT / ".github" / "actions" / "deploy-stage" / "action.yml"
# GitHub's self-repository form: the action of the commit that runs, not whatever the workspace holds.
DEPLOY_STAGE_USES = "$/.github/actions/deploy-stage"
CI_FILES = sorted(WORKFLOWS.glob("*.yml")) + [DEPLOY_STAGE_ACTION]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_DOCS = (ROOT / "docs" / "domains" / "ci-cd.md").read_text(encoding="utf-8")  # the CI/CD page of the docs
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+(\.\d+){0,2}$")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def test_workflow() -> dict[str, Any]:
    return load(WORKFLOWS / "test.yml")


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load(WORKFLOWS / "deploy.yml")


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def deploy_jobs(deploy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Jobs that deploy a stage (they run the deploy-stage action), by job id."""
    return {name: job for name, job in deploy["jobs"].items()
            if any(step.get("uses") == DEPLOY_STAGE_USES for step in _steps(job))}


def _stage_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in _steps(job) if s.get("uses") == DEPLOY_STAGE_USES]
    return dict(step["with"])


def ci_run_command() -> str:
    """The one command `.ci/run` runs (its last line; the others only set the shell up)."""
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[:-1] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."'], lines
    return lines[-1]


def test_test_workflow_runs_exactly_the_ci_command(test_workflow):
    (job,) = test_workflow["jobs"].values()
    runs = [step["run"].strip() for step in _steps(job) if "run" in step]
    assert runs == [ci_run_command()] == ["./scripts/test.sh"]
    # The README's test command is the same one.
    assert "./scripts/test.sh    # set everything up, then run the whole test suite" in README


def test_test_workflow_triggers_permissions_toolchain_and_caches(test_workflow):
    assert set(test_workflow["on"]) == {"pull_request", "push", "workflow_call"}
    assert test_workflow["on"]["push"] == {"branches": ["main"]}
    assert test_workflow["permissions"] == {"contents": "read"}
    assert test_workflow["concurrency"]["group"].startswith("test-")
    (job,) = test_workflow["jobs"].values()
    assert "permissions" not in job  # nothing beyond the workflow's contents: read
    uses = {step["uses"].split("@")[0]: step.get("with", {}) for step in _steps(job) if "uses" in step}
    assert uses["actions/setup-python"] == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "constraints.txt"}
    assert uses["actions/setup-node"] == {"node-version": "20", "cache": "npm", "cache-dependency-path": "package-lock.json"}
    assert uses["actions/checkout"] == {"persist-credentials": False}


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path):
    uses = re.findall(r"^\s*-?\s*uses:\s*(.+?)\s*$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert uses
    # This repository's own action and workflow: the self-repository form, which resolves to the running commit
    # (no checkout needed, and no ref, which GitHub rejects there), never `./`, which reads the workspace.
    local = [u for u in uses if u.startswith(("./", "$/"))]
    assert all(u.startswith("$/") and "@" not in u for u in local), local
    remote = [u for u in uses if u not in local]
    assert remote or path.name == "deploy.yml"
    for ref in remote:
        assert PINNED.match(ref), f"{path.name}: {ref!r} is not pinned to a full commit SHA with a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_no_long_lived_keys_or_secrets(path):
    text = path.read_text(encoding="utf-8")
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "aws-session-token", "AWS_ACCESS_KEY_ID",
                      "AWS_SECRET_ACCESS_KEY", "secrets."):
        assert forbidden not in text, f"{path.name} mentions {forbidden}"


def test_deploy_waits_for_the_test_workflow_and_one_synth(deploy):
    assert set(deploy["on"]) == {"push", "workflow_dispatch"}
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert deploy["permissions"] == {"contents": "read"}
    assert deploy["concurrency"] == {"group": "deploy-${{ github.repository }}", "cancel-in-progress": False}
    assert deploy["jobs"]["test"] == {"uses": "$/.github/workflows/test.yml", "permissions": {"contents": "read"}}
    synth = deploy["jobs"]["synth"]
    assert synth["needs"] == "test" and "permissions" not in synth and "environment" not in synth
    assert any(step.get("run", "").startswith("./scripts/synth.sh") for step in _steps(synth))
    (upload,) = [s for s in _steps(synth) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "cloud-assembly" and upload["with"]["path"] == "cdk.out"


def test_every_deploy_job_has_oidc_an_environment_and_no_more_permissions(deploy):
    jobs = deploy_jobs(deploy)
    assert len(jobs) == len(STAGE_NAMES)
    assert set(deploy["jobs"]) == {"test", "synth", *jobs}
    for name, job in jobs.items():
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
        assert isinstance(job.get("environment"), str) and job["environment"], name
        assert isinstance(job.get("timeout-minutes"), int), name


def test_stages_deploy_in_the_estates_dependency_order(deploy):
    jobs = deploy_jobs(deploy)
    by_needs = {job["needs"]: name for name, job in jobs.items()}
    order, previous = [], "synth"
    while previous in by_needs:  # follow the chain of `needs` from the synth job
        previous = by_needs[previous]
        order.append(_stage_step(jobs[previous])["stage"])
    assert order == [stage for stage, _ in DEPLOY_ORDER]
    assert sorted(order) == sorted(STAGE_NAMES)


def test_prod_needs_staging_and_the_approval_environment(deploy):
    jobs = deploy_jobs(deploy)
    (prod,) = [job for job in jobs.values() if _stage_step(job)["stage"] == "Prod"]
    (staging_id,) = [name for name, job in jobs.items() if _stage_step(job)["stage"] == "Staging"]
    assert prod["needs"] == staging_id
    assert prod["environment"] == "production"
    assert "required reviewers" in CI_DOCS.lower()


def test_each_job_uses_its_stages_role_variable_and_the_configured_environment(deploy):
    config = default_config()
    assert config.ci is not None
    accounts = dict(DEPLOY_ORDER)
    for job in deploy_jobs(deploy).values():
        step = _stage_step(job)
        stage = step["stage"]
        assert step["role-arn"] == f"${{{{ vars.{role_variable(stage)} }}}}"
        assert step["region"] == "${{ vars.AWS_REGION }}"
        assert step["session-seconds"] == "${{ vars.AWS_SESSION_SECONDS || 3600 }}"
        # The job's environment is the one the stage's role trusts (ci.environments of cdk.json).
        assert job["environment"] == config.ci.environments[accounts[stage]]


def test_the_docs_name_every_variable_the_workflow_reads(deploy):
    section = CI_DOCS
    read = set(re.findall(r"vars\.([A-Z_]+)", (WORKFLOWS / "deploy.yml").read_text()))
    assert read == {"AWS_REGION", "AWS_SESSION_SECONDS", "ESTATE_FILE", *(role_variable(stage) for stage in STAGE_NAMES)}
    for variable in read:
        assert f"`{variable}`" in section, variable


def test_deploy_stage_action_assumes_the_role_by_oidc_and_deploys_one_stage_from_the_synthesized_assembly():
    action = load(DEPLOY_STAGE_ACTION)
    steps = action["runs"]["steps"]
    (credentials,) = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert credentials["with"]["role-to-assume"] == "${{ inputs.role-arn }}"
    # The session length is an input (fed from AWS_SESSION_SECONDS), one hour unless given, checked before use.
    assert credentials["with"]["role-duration-seconds"] == "${{ inputs.session-seconds }}"
    assert action["inputs"]["session-seconds"] == {**action["inputs"]["session-seconds"], "required": False, "default": "3600"}
    assert "SESSION >= 900 && SESSION <= 43200" in steps[0]["run"]
    (download,) = [s for s in steps if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"] == {"name": "cloud-assembly", "path": "cdk.out"}
    deploy_runs = [s["run"] for s in steps if "cdk deploy" in s.get("run", "")]
    assert [shlex.split(r) for r in deploy_runs] == [
        ["npx", "cdk", "deploy", "--app", "cdk.out", "$STAGE/*", "--require-approval", "never", "--progress", "events"]]
    # The steps run in order: credentials only after the assembly is there, the deploy last.
    assert steps.index(download) < steps.index(credentials) < len(steps) - 1


def test_serving_jobs_outlast_the_longest_rollout_the_config_admits(deploy):
    jobs = {_stage_step(job)["stage"]: job for job in deploy_jobs(deploy).values()}
    assert jobs["Staging"]["timeout-minutes"] == jobs["Prod"]["timeout-minutes"] == SERVING_JOB_TIMEOUT_MINUTES
    config = default_config()
    longest = max(s.rollout.max_execution_minutes for m in config.models for s in m.serving.values())
    assert longest == 120  # fraud-batch in prod, in the default estate
    assert config.ci is not None and longest + STAGE_MARGIN_MINUTES <= config.ci.max_session_hours * 60 <= SERVING_JOB_TIMEOUT_MINUTES


def test_config_rejects_a_ci_session_shorter_than_a_rollout():
    (problem,) = config_problems(lambda d: d["ci"].update(max_session_hours=1))
    assert problem == ("ci.max_session_hours: a 1 h CI session is shorter than models[2].serving.prod.rollout.max_execution_minutes "
                       "(120) plus 30 minutes for the rest of the stage; raise it to 3 and the repository variable "
                       "AWS_SESSION_SECONDS to 10800")


def test_config_rejects_a_rollout_longer_than_a_hosted_job():
    def long_rollout(d: dict[str, Any]) -> None:
        d["ci"]["max_session_hours"] = 12
        d["models"][1]["serving"]["prod"]["rollout"]["max_execution_minutes"] = 400
    (problem,) = config_problems(long_rollout)
    assert problem == ("models[1].serving.prod.rollout.max_execution_minutes: 400 minutes plus 30 for the rest of the stage exceed "
                       "the 360-minute limit of a GitHub-hosted deploy job; shorten the rollout")


def test_dependabot_updates_the_pins_of_every_workflow_and_the_composite_action():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    (actions,) = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    assert sorted(actions["directories"]) == ["/", "/" + str(DEPLOY_STAGE_ACTION.parent.relative_to(ROOT))]
    assert any(u["package-ecosystem"] == "npm" for u in config["updates"])
    # A freshly published (possibly compromised) release waits a week before it is proposed.
    for update in config["updates"]:
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]


def test_zizmor_audit_of_the_github_folder_finds_nothing():
    """zizmor's static security audit of the workflows, the composite action and dependabot.yml, offline (no GitHub
    API); a file it cannot parse fails the run instead of being skipped."""
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor is not None, "zizmor is a dev dependency (pip install -e '.[dev]')"
    result = subprocess.run([zizmor, "--offline", "--strict-collection", "--format", "json", ".github"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    findings = json.loads(result.stdout or "null")
    assert isinstance(findings, list), result.stderr[-2000:]
    assert [f"{f['ident']}: {f['desc']} ({loc['symbolic']['key']['Local']['verbatim_path']} line "
            f"{loc['concrete']['location']['start_point']['row'] + 1})"
            for f in findings for loc in f["locations"][:1]] == []
    assert result.returncode == 0, result.stderr[-2000:]


def test_cdk_cli_and_cdk_assets_are_pinned_exactly():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name in ("aws-cdk", "cdk-assets"):
        version = package["devDependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
