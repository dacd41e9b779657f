"""The SNS topic CloudWatch alarms notify: encrypted with a CMK, TLS-only, and open to this account's alarms.

`enforce_ssl` gives a topic an explicit resource policy, which replaces SNS's default one (that let the
account's services publish); CloudWatch publishes as its service principal, so it needs its own statement.
The key must admit CloudWatch too (`EstateKeys` does for the monitoring key).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def alarm_topic(scope: Construct, id: str, *, key: kms.IKey, display_name: str) -> sns.Topic:
    """An encrypted, TLS-only SNS topic that this account's CloudWatch alarms may publish to.

    Args:
        scope: the construct to create the topic in.
        id: the topic's construct id.
        key: the customer-managed key of the topic; it must admit CloudWatch (the ``monitoring`` key of
            `EstateKeys` does).
        display_name: the topic's display name (the sender name of e-mail notifications).
    """
    topic = sns.Topic(scope, id, master_key=key, enforce_ssl=True, display_name=display_name)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsOfThisAccount",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    return topic
