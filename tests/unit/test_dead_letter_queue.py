"""DeadLetterQueue: CMK-encrypted, TLS-only, 14 days, retained; retention validated."""

from __future__ import annotations

import re

import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from mlops_estate.events.dead_letter_queue import DeadLetterQueue
from tests.helpers import make_stack


def test_queue_is_encrypted_tls_only_and_retained():
    stack = make_stack()
    key = kms.Key(stack, "Key")
    dlq = DeadLetterQueue(stack, "Dlq", key=key, retention_days=7)
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::SQS::Queue",
        {
            "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}, "MessageRetentionPeriod": 7 * 86400},  # type: ignore[arg-type]
            "DeletionPolicy": "Retain",
        },
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )
    metric = dlq.metric_messages_visible()
    assert (metric.metric_name, metric.statistic) == ("ApproximateNumberOfMessagesVisible", "Maximum")


@pytest.mark.parametrize("days", [0, 15])
def test_retention_out_of_range(days):
    stack = make_stack()
    with pytest.raises(ValueError, match=re.escape(f"Test/Dlq: 1 problem(s):\n  - retention_days: {days!r} is outside what SQS keeps; "
                                                   "expected 1 to 14 days")):
        DeadLetterQueue(stack, "Dlq", key=kms.Key(stack, "Key"), retention_days=days)
