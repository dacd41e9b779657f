"""Close a VPC's default security group without a Lambda function: an AWS Config rule with automatic remediation.

CDK closes the default group with a custom resource backed by a Node.js Lambda function (a file asset, with no
dead-letter queue, no reserved concurrency and logs that never expire). Instead, the AWS Config managed rule
``VPC_DEFAULT_SECURITY_GROUP_CLOSED``, scoped to this VPC's default group, flags any rule on it, and an automatic
remediation runs the AWS-owned SSM Automation runbook ``AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules``,
which removes every ingress and egress rule. `PrivateNetwork` uses it in every account, and a StackSet template,
which cannot carry assets, can too. It needs the account's AWS Config recorder (as every Config rule does).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_config as config
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_estate.core.nag import acknowledge, acknowledge_wildcards
from mlops_estate.core.validation import Problems

RULE_IDENTIFIER = "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
RUNBOOK = "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules"


class DefaultSecurityGroupClosed(Construct):
    """Detect and remove every rule of ``vpc``'s default security group without a code asset (see the module
    docstring): the AWS Config rule ``VPC_DEFAULT_SECURITY_GROUP_CLOSED`` scoped to that group, with automatic
    remediation by the AWS-owned runbook ``AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules``.

    The remediation role, assumed only by SSM Automation of this account, may revoke rules of that one group;
    describing security groups has no resource-level permission. Needs the account's AWS Config recorder.

    Args:
        scope: the parent construct.
        id: the construct id.
        vpc: the VPC whose default security group is closed (made with
            ``restrict_default_security_group=False``).
        maximum_attempts: how many times AWS Config runs the remediation for one finding, 1-25; default 5.
        retry_seconds: the period, in seconds, within which those attempts are counted, 1-2678000 (31 days);
            default 60.
    """

    def __init__(self, scope: Construct, id: str, *, vpc: ec2.Vpc, maximum_attempts: int = 5, retry_seconds: int = 60) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if not 1 <= maximum_attempts <= 25:
            problems.add("maximum_attempts", f"{maximum_attempts!r} is outside AWS Config's limit; expected 1 to 25")
        if not 1 <= retry_seconds <= 2678000:
            problems.add("retry_seconds", f"{retry_seconds!r} is outside AWS Config's limit; expected 1 to 2678000 seconds")
        problems.raise_if_any(self.node.path)
        stack = Stack.of(self)
        group_id = vpc.vpc_default_security_group
        group_arn = stack.format_arn(service="ec2", resource="security-group", resource_name=group_id)
        self.rule = config.ManagedRule(
            self, "Rule", identifier=RULE_IDENTIFIER,
            description="VPC default security group has no rules (remediated automatically)",
            rule_scope=config.RuleScope.from_resource(config.ResourceType.EC2_SECURITY_GROUP, group_id),
        )
        self.role = iam.Role(
            self, "RemediationRole",
            assumed_by=iam.ServicePrincipal("ssm.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}),
            description=f"SSM Automation {RUNBOOK}: remove the rules of the default security group",
        )
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"], resources=[group_arn]))
        describe = iam.PolicyStatement(actions=["ec2:DescribeSecurityGroups"], resources=["*"])
        self.role.add_to_policy(describe)
        automation = iam.PolicyStatement(
            actions=["ssm:StartAutomationExecution", "ssm:GetAutomationExecution"],
            resources=[stack.format_arn(service="ssm", resource="automation-definition", resource_name=f"{RUNBOOK}:*", account=""),
                       stack.format_arn(service="ssm", resource="automation-execution", resource_name="*")],
        )
        self.role.add_to_policy(automation)
        policy = self.role.node.find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy)
        # Finding ids as this stack renders the ARNs: pseudo-parameters in a StackSet template, literals in an estate stack.
        acknowledge_wildcards(policy, describe, "ec2:DescribeSecurityGroups supports no resource-level permissions; the "
                              "runbook reads the group before removing its rules.")
        acknowledge_wildcards(policy, automation, "The runbook is AWS-owned and versioned (:*); automation executions get "
                              "generated ids, and only this account's SSM Automation can assume the role.")
        self.remediation = config.CfnRemediationConfiguration(
            self, "Remediation",
            config_rule_name=self.rule.config_rule_name,
            target_type="SSM_DOCUMENT",
            target_id=RUNBOOK,
            automatic=True,
            maximum_automatic_attempts=maximum_attempts,
            retry_attempt_seconds=retry_seconds,
            parameters={
                "AutomationAssumeRole": {"StaticValue": {"Values": [self.role.role_arn]}},
                "GroupId": {"ResourceValue": {"Value": "RESOURCE_ID"}},
            },
        )
        vpc_resource = vpc.node.default_child
        assert isinstance(vpc_resource, ec2.CfnVPC)
        acknowledge(vpc_resource, f"The default security group is closed by the AWS Config rule {RULE_IDENTIFIER} with automatic "
                    f"remediation ({RUNBOOK}) instead of CDK's Lambda-backed custom resource (no function to run and "
                    "patch, and a StackSet template can carry it).",
                    "NIST.800.53.R5-VPCDefaultSecurityGroupClosed", "HIPAA.Security-VPCDefaultSecurityGroupClosed")
