"""What SageMaker instance types can do that the estate's rules depend on (no CDK imports here)."""

from __future__ import annotations

import re


# Instance families with local NVMe instance storage. SageMaker encrypts that storage with a hardware module
# and rejects a volume KMS key (KmsKeyId / VolumeKmsKeyId) on them, so while ``require_kms`` makes the SCP
# deny every request without one, these families cannot run at all. SageMaker's API reference names
# ml.p4d, ml.g4dn and ml.g5 as examples; the rest is every SageMaker family whose EC2 counterpart has
# instance store volumes. Any family with a ``d`` after its generation (m5d, c6id, r5dn, p3dn, g4ad, ...)
# has local storage too (LOCAL_STORAGE_SUFFIX).
LOCAL_STORAGE_FAMILIES = (
    "g4dn", "g4ad", "g5", "g6", "g6e", "gr6", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2", "dl1",
    "m5d", "m5dn", "m5ad", "m6id", "m6idn", "m6gd", "m7gd", "c5d", "c6id", "c6gd", "c7gd", "r5d", "r5dn", "r5ad", "r6id",
    "r6idn", "r6gd", "r7gd", "x2idn", "x2iedn", "z1d",
)
LOCAL_STORAGE_SUFFIX = re.compile(r"^[a-z]+[0-9]+[a-z]*d[a-z]*$")


def instance_family(instance_type: str) -> str:
    """``g5`` of ``ml.g5.xlarge`` (or of the pattern ``ml.g5.*``); ``""`` when there is none."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ml" else ""


def has_local_storage(instance_type: str) -> bool:
    """True when an instance type (or every type of a pattern's family) has local NVMe instance storage.

    A wildcard family (``ml.*``, ``ml.g*.xlarge``) counts when it matches a known local-storage family,
    except the bare ``*``, which says nothing about a family.
    """
    family = instance_family(instance_type)
    if not family or family == "*":
        return False
    if "*" in family or "?" in family:
        return any(string_like(known, family) for known in LOCAL_STORAGE_FAMILIES)
    return family in LOCAL_STORAGE_FAMILIES or LOCAL_STORAGE_SUFFIX.match(family) is not None


def always_keyed_problem(instance_type: str, what: str) -> str | None:
    """The problem with ``instance_type`` for jobs that always take the estate's volume CMK, if any."""
    if not has_local_storage(instance_type):
        return None
    return (f"{instance_type!r} has local NVMe instance storage, on which SageMaker rejects a volume KMS key, and {what} "
            "always encrypt their volumes with the estate's CMK; choose an EBS-backed instance type (ml.m5, ml.c5, ml.r5, "
            "ml.p3, ml.inf2, ...)")


def string_like(value: str, pattern: str) -> bool:
    """IAM StringLike: ``*`` any run of characters, ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None
