"""The default estate passes every gate together: cdk-nag (all packs), the guardrail mirror, cfn-lint on
every template, and AWS's pipeline-definition schema on every pipeline of every stack."""

from __future__ import annotations

import json

from tests.gates.test_cfn_lint import lint_problems
from tests.pipeline_schema import from_template, validate


def test_default_estate_passes_every_gate_together(default_estate):
    # cdk-nag and the guardrail check ran during the fixture's synth: any finding would have failed it.
    report = json.loads((default_estate.outdir / "validation-report.json").read_text())
    assert all(p["conclusion"] == "success" for p in report["pluginReports"])

    problems: list[str] = []
    pipelines = 0
    for name, template in default_estate.templates.items():
        problems += [f"{name}: {p}" for p in lint_problems(default_estate, name)]
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::SageMaker::Pipeline":
                validate(from_template(resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))
                pipelines += 1
    assert problems == []
    assert pipelines >= len(default_estate.estate.ml_dev.config.models), "every model has at least its build pipeline"
