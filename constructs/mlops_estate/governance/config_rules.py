"""AWS Config: the managed SageMaker rules of an ML account, and optionally the recorder they need.

The rules report drift that the guardrail SCP cannot prevent (resources made before the SCP was
attached, or by principals it does not govern). Rule identifiers are AWS Config's managed-rule ids,
as listed in the AWS Config developer guide.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnElement, Stack
from aws_cdk import aws_config as config
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.nag import acknowledge
from mlops_estate.security.storage import SecureBucket

# construct id -> managed rule identifier
SAGEMAKER_RULES: dict[str, str] = {
    "EndpointConfigKms": "SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED",
    "NotebookKms": "SAGEMAKER_NOTEBOOK_INSTANCE_KMS_KEY_CONFIGURED",
    "NotebookNoDirectInternet": "SAGEMAKER_NOTEBOOK_NO_DIRECT_INTERNET_ACCESS",
    "NotebookInVpc": "SAGEMAKER_NOTEBOOK_INSTANCE_INSIDE_VPC",
}
# Only where models must run in a VPC with isolation (serverless endpoints support neither).
SAGEMAKER_MODEL_RULES: dict[str, str] = {
    "ModelInVpc": "SAGEMAKER_MODEL_IN_VPC",
    "ModelIsolation": "SAGEMAKER_MODEL_ISOLATION_ENABLED",
}


class ConfigRecorder(Construct):
    """An AWS Config configuration recorder of every supported resource type (global IAM types excluded), with a
    role using AWS's managed ``AWS_ConfigRole`` policy, and a delivery channel to a `SecureBucket` under
    ``config/``, encrypted with ``key``. AWS Config rules evaluate only what a recorder records.

    Only for accounts that do not record already: an account (region) takes one recorder.

    Args:
        scope: the parent construct.
        id: the construct id (stateful: keep it stable).
        key: the customer-managed key of the bucket and of the delivered configuration snapshots and history.
    """

    def __init__(self, scope: Construct, id: str, *, key: kms.Key) -> None:
        super().__init__(scope, id)
        self.bucket = SecureBucket(self, "Bucket", key=key)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("config.amazonaws.com"),
                             managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")])
        acknowledge(self.role, "AWS_ConfigRole is the policy AWS maintains for the Config recorder; it follows every new resource type.",
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]")
        prefix = "config"
        delivery = self.bucket.bucket.arn_for_objects(f"{prefix}/AWSLogs/{Aws.ACCOUNT_ID}/Config/*")
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[delivery]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetBucketAcl"], resources=[self.bucket.bucket_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]))
        policy = self.role.node.find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy)
        acknowledge(policy, "AWS Config names delivered objects by date and id under this account's Config/ prefix; the "
                    "wildcard covers exactly that prefix of the recorder's own bucket.",
                    f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.bucket.bucket.node.default_child)}.Arn>/config/AWSLogs/<AWS::AccountId>/Config/*]")
        self.recorder = config.CfnConfigurationRecorder(
            self, "Recorder", role_arn=self.role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(all_supported=True, include_global_resource_types=False),
        )
        self.delivery_channel = config.CfnDeliveryChannel(
            self, "DeliveryChannel", s3_bucket_name=self.bucket.bucket_name, s3_key_prefix=prefix, s3_kms_key_arn=key.key_arn,
        )


    @staticmethod
    def _logical_id(element: object) -> str:
        assert isinstance(element, CfnElement)
        return str(Stack.of(element).resolve(Stack.of(element).get_logical_id(element)))


class SageMakerConfigRules(Construct):
    """The AWS Config managed rules for SageMaker in one account: they report what the guardrail SCP cannot
    prevent (resources made before it was attached, or by principals it does not govern): endpoint
    configurations and notebook instances without a KMS key, notebooks with direct internet access or outside
    a VPC (`SAGEMAKER_RULES`).

    Args:
        scope: the parent construct.
        id: the construct id.
        recorder_key: when given, also record configuration (a `ConfigRecorder` whose bucket this key
            encrypts); default ``None``: the account's existing recorder evaluates the rules.
        model_rules: also require models to run in a VPC with network isolation (`SAGEMAKER_MODEL_RULES`);
            default off, as serverless endpoints support neither.
    """

    def __init__(self, scope: Construct, id: str, *, recorder_key: kms.Key | None = None, model_rules: bool = False) -> None:
        super().__init__(scope, id)
        self.recorder = ConfigRecorder(self, "Recording", key=recorder_key) if recorder_key is not None else None
        identifiers = {**SAGEMAKER_RULES, **(SAGEMAKER_MODEL_RULES if model_rules else {})}
        self.rules: dict[str, config.ManagedRule] = {}
        for rule_id, identifier in identifiers.items():
            rule = config.ManagedRule(self, rule_id, identifier=identifier,
                                      description=f"SageMaker estate guardrail, detective: {identifier}")
            if self.recorder is not None:
                rule.node.add_dependency(self.recorder.recorder, self.recorder.delivery_channel)
            self.rules[identifier] = rule
