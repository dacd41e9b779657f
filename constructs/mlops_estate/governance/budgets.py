"""A monthly cost budget for one account, alerting an encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AccountBudget(Construct):
    """A monthly COST budget of the whole account with an ACTUAL alert at each threshold (percent of
    the limit) and, with ``forecast_alert``, a FORECASTED alert at 100 %. Alerts go to ``topic``: an SNS
    topic encrypted with ``key`` that only AWS Budgets of this account may publish to; ``notify_emails``
    are subscribed to it.

    ``budget_name`` is physical (the guardrail SCP and the console find it by name).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        budget_name: str,
        limit_usd: float,
        key: kms.IKey,
        thresholds_percent: Sequence[float] = (80.0, 100.0),
        forecast_alert: bool = True,
        notify_emails: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if limit_usd <= 0:
            problems.append(f"limit_usd must be positive, got {limit_usd}")
        if not thresholds_percent:
            problems.append("thresholds_percent needs at least one threshold")
        problems += [f"thresholds_percent {t} is outside (0, 1000]" for t in thresholds_percent if not 0 < t <= 1000]
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        self.budget_name = budget_name
        self.topic = sns.Topic(self, "Alerts", master_key=key, enforce_ssl=True,
                               display_name=f"{budget_name} budget alerts")
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsOfThisAccountPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        if isinstance(key, kms.Key):
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="BudgetsPublishEncrypted",
                    principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )
        for email in notify_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        subscriber = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=self.topic.topic_arn)]
        notifications = [
            budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type="ACTUAL", comparison_operator="GREATER_THAN", threshold=t, threshold_type="PERCENTAGE"),
                subscribers=subscriber,
            )
            for t in sorted(thresholds_percent)
        ]
        if forecast_alert:
            notifications.append(budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type="FORECASTED", comparison_operator="GREATER_THAN", threshold=100, threshold_type="PERCENTAGE"),
                subscribers=subscriber,
            ))
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=limit_usd, unit="USD"),
            ),
            notifications_with_subscribers=notifications,
        )
