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

from mlops_estate.core.patterns import BUDGET_NAME, EMAIL
from mlops_estate.core.validation import Problems

# AWS Budgets allows this many notifications per budget.
MAX_NOTIFICATIONS = 10


class AccountBudget(Construct):
    """A monthly COST budget of the whole account, so that spend is seen before the invoice: an ACTUAL alert
    at each threshold (percent of the limit) and, with ``forecast_alert``, a FORECASTED alert at 100 %.
    Alerts go to ``topic``: an SNS topic encrypted with ``key``, TLS-only, that only AWS Budgets of this
    account may publish to; ``notify_emails`` are subscribed to it.

    Args:
        scope: the parent construct.
        id: the construct id.
        budget_name: the budget's physical name (the guardrail SCP and the console find it by name): 1-100
            characters without ``:`` or ``\\``, not containing ``/action/``.
        limit_usd: the monthly limit in US dollars, > 0.
        key: the customer-managed key of the alert topic. A `kms.Key` made in this app gets a key-policy
            statement admitting AWS Budgets of this account; an imported key must admit it already.
        thresholds_percent: percentages of ``limit_usd`` (each in (0, 1000], each once) at which actual spend
            alerts; default 80 and 100.
        forecast_alert: also alert when the month's forecast exceeds the limit (default on). AWS Budgets
            allows 10 alerts per budget, the forecast counting as one.
        notify_emails: e-mail addresses subscribed to the topic (each confirms by mail); default none.
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
        problems = Problems()
        problems.match("budget_name", budget_name, BUDGET_NAME, "an AWS Budgets name",
                       "1-100 characters without ':' or '\\', not containing '/action/'")
        if not limit_usd > 0:
            problems.add("limit_usd", f"{limit_usd!r} is not a limit; expected a positive amount of US dollars")
        if not thresholds_percent:
            problems.add("thresholds_percent", f"{list(thresholds_percent)!r} is empty; expected at least one threshold")
        for i, threshold in enumerate(thresholds_percent):
            if not 0 < threshold <= 1000:
                problems.add(f"thresholds_percent[{i}]", f"{threshold!r} is outside what AWS Budgets allows; expected a percentage "
                                                         "in (0, 1000]")
        if len(set(thresholds_percent)) != len(thresholds_percent):
            problems.add("thresholds_percent", f"{list(thresholds_percent)!r} names a threshold twice; expected each once")
        if len(thresholds_percent) + forecast_alert > MAX_NOTIFICATIONS:
            problems.add("thresholds_percent", f"{list(thresholds_percent)!r} makes {len(thresholds_percent) + forecast_alert} alerts "
                                               f"with forecast_alert={forecast_alert!r}; expected at most {MAX_NOTIFICATIONS} per budget")
        for i, email in enumerate(notify_emails):
            problems.match(f"notify_emails[{i}]", email, EMAIL, "an e-mail address", "one like finops@example.com")
        if len(set(notify_emails)) != len(notify_emails):
            problems.add("notify_emails", f"{list(notify_emails)!r} names an address twice; expected each once")
        problems.raise_if_any(self.node.path)
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
