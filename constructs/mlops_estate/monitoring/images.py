"""The container images of the monitors: by default the AWS-owned images of the stack's region."""

from __future__ import annotations

from dataclasses import dataclass

# AWS-owned image registries per region (from the SageMaker Python SDK's image_uri_config).
ANALYZER_ACCOUNTS = {
    "af-south-1": "875698925577", "ap-east-1": "001633400207", "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524", "ap-northeast-3": "990339680094", "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676", "ap-southeast-2": "563025443158", "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234", "eu-central-1": "048819808253", "eu-central-2": "590183933784",
    "eu-north-1": "895015795356", "eu-south-1": "933208885752", "eu-south-2": "437450045455",
    "eu-west-1": "468650794304", "eu-west-2": "749857270468", "eu-west-3": "680080141114",
    "il-central-1": "843974653677", "me-central-1": "588750061953", "me-south-1": "607024016150",
    "sa-east-1": "539772159869", "us-east-1": "156813124566", "us-east-2": "777275614652",
    "us-west-1": "890145073186", "us-west-2": "159807026194",
}
CLARIFY_ACCOUNTS = {
    "af-south-1": "811711786498", "ap-east-1": "098760798382", "ap-northeast-1": "377024640650",
    "ap-northeast-2": "263625296855", "ap-northeast-3": "912233562940", "ap-south-1": "452307495513",
    "ap-southeast-1": "834264404009", "ap-southeast-2": "007051062584", "ap-southeast-3": "705930551576",
    "ca-central-1": "675030665977", "eu-central-1": "017069133835", "eu-central-2": "730335477804",
    "eu-north-1": "763603941244", "eu-south-1": "638885417683", "eu-west-1": "131013547314",
    "eu-west-2": "440796970383", "eu-west-3": "341593696636", "me-south-1": "835444307964",
    "sa-east-1": "520018980103", "us-east-1": "205585389593", "us-east-2": "211330385671",
    "us-west-1": "740489534195", "us-west-2": "306415355426",
}


@dataclass(frozen=True)
class MonitorImages:
    """Container images of the monitors.

    Attributes:
        analyzer: the Model Monitor analyzer image (data and model quality).
        clarify: the SageMaker Clarify processing image (bias and explainability).
    """

    analyzer: str
    clarify: str

    @staticmethod
    def for_region(region: str) -> MonitorImages | None:
        """The AWS-owned images of ``region``, or None where none is known (then pass images of your own)."""
        if region not in ANALYZER_ACCOUNTS or region not in CLARIFY_ACCOUNTS:
            return None
        return MonitorImages(
            analyzer=f"{ANALYZER_ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com/sagemaker-model-monitor-analyzer",
            clarify=f"{CLARIFY_ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com/sagemaker-clarify-processing:1.0",
        )
