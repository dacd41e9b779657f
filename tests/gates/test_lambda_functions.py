"""Every Lambda function of the default estate (its stacks, the StackSet baseline and the project templates), the
ones CDK generates included, has the estate's safeguards: a dead-letter queue or an on-failure destination (failed
asynchronous invocations, such as CloudFormation's custom-resource requests, are kept), reserved concurrency, a log
group of its own with a retention, and a Python runtime (the one runtime the estate patches and reviews)."""

from __future__ import annotations

from typing import Any

from tests.gates.test_project_templates import product_templates


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def _log_group_names_function(name: Any, function_id: str) -> bool:
    """``/aws/lambda/<function>``: the log group Lambda writes to when the function names none."""
    if not isinstance(name, dict) or "Fn::Join" not in name:
        return False
    separator, parts = name["Fn::Join"]
    return separator == "" and parts == ["/aws/lambda/", {"Ref": function_id}]


def function_problems(template: dict[str, Any]) -> list[str]:
    resources: dict[str, dict[str, Any]] = template.get("Resources", {})
    on_failure = {
        _ref(r["Properties"].get("FunctionName"))
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    }
    problems = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource.get("Properties", {})
        if not props.get("DeadLetterConfig", {}).get("TargetArn") and logical_id not in on_failure:
            problems.append(f"{logical_id}: no dead-letter queue and no on-failure destination")
        concurrency = props.get("ReservedConcurrentExecutions")
        if not isinstance(concurrency, int) or concurrency < 1:
            problems.append(f"{logical_id}: ReservedConcurrentExecutions is {concurrency!r}, not a reservation")
        named = _ref(props.get("LoggingConfig", {}).get("LogGroup"))
        groups = [r for lid, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"
                  and (lid == named or _log_group_names_function(r.get("Properties", {}).get("LogGroupName"), logical_id))]
        if not any("RetentionInDays" in g.get("Properties", {}) for g in groups):
            problems.append(f"{logical_id}: no log group of its own with a retention (logs would never expire)")
        runtime = str(props.get("Runtime", ""))
        if not runtime.startswith("python"):
            problems.append(f"{logical_id}: runtime {runtime!r} is not Python")
    return problems


def test_every_lambda_function_has_the_estates_safeguards(default_estate):
    templates = {**default_estate.templates, **{f"product {n}": t for n, t in product_templates(default_estate).items()}}
    problems, functions = [], 0
    for name, template in sorted(templates.items()):
        functions += sum(r["Type"] == "AWS::Lambda::Function" for r in template.get("Resources", {}).values())
        problems += [f"{name} {p}" for p in function_problems(template)]
    assert problems == []
    assert functions >= 3  # the promotion and retraining handlers at least: the walk must see them


def test_the_check_catches_a_function_without_safeguards():
    bare = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "nodejs22.x"}}}}
    assert function_problems(bare) == [
        "Fn: no dead-letter queue and no on-failure destination",
        "Fn: ReservedConcurrentExecutions is None, not a reservation",
        "Fn: no log group of its own with a retention (logs would never expire)",
        "Fn: runtime 'nodejs22.x' is not Python",
    ]
    kept = {"Resources": {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.14", "ReservedConcurrentExecutions": 1}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "Fn"}]]}, "RetentionInDays": 365}},
        "Invoke": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:eu-west-1:1:q"}}}},
    }}
    assert function_problems(kept) == []
