"""Typed feature group definitions: what a `FeatureGroup` builds, and the ``feature_groups`` config section.

The same frozen dataclasses are the construct's props and the estate config's entries, so a definition
is validated once, by `FeatureGroupDefinition.check`, with the rules SageMaker Feature Store applies
(names, reserved words, record identifier and event time types, collection types, TTL, throughput).
The config parser calls ``check`` with the config path (``feature_groups[0].features[2].name``); the
construct calls it with its own path. Every problem is reported, never just the first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from mlops_estate.core.validation import Problems, join

FeatureType = Literal["String", "Integral", "Fractional"]
CollectionType = Literal["List", "Set", "Vector"]
StorageType = Literal["Standard", "InMemory"]
TtlUnit = Literal["Seconds", "Minutes", "Hours", "Days", "Weeks"]
TableFormat = Literal["Iceberg", "Glue"]
ThroughputMode = Literal["OnDemand", "Provisioned"]

# SageMaker's own patterns (CreateFeatureGroup), matched in full. Feature group names are further kept
# lowercase here: SageMaker lowercases them in ARNs, and the Glue table name is derived from them, so
# lowercase keeps IAM resource ARNs, the table and the name in config one and the same.
FEATURE_GROUP_NAME = re.compile(r"^[a-z0-9]([_-]*[a-z0-9]){0,63}$")
FEATURE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
MAX_NAME_LENGTH = 64
# Columns Feature Store adds to every offline store table.
RESERVED_FEATURE_NAMES = frozenset({"is_deleted", "write_time", "api_invocation_time"})
MAX_FEATURES = 2500
MAX_DESCRIPTION = 128
MAX_VECTOR_DIMENSION = 8192
# The API's TtlDuration.Value is a (32-bit) Integer with a minimum of 1.
MIN_TTL, MAX_TTL = 1, 2**31 - 1
# Capacity units one feature group can provision (SageMaker Feature Store quota).
MAX_CAPACITY_UNITS = 40_000
EVENT_TIME_TYPES: tuple[FeatureType, ...] = ("String", "Fractional")
# An S3 key prefix for the offline store: segments of safe characters separated by single slashes.
S3_PREFIX = re.compile(r"^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*$")

# AWS::SageMaker::FeatureGroup's FeatureDefinition has only FeatureName and FeatureType (checked against
# the CloudFormation resource schema shipped with cfn-lint and aws-cdk-lib 2.275): collection features
# can be declared and are validated against SageMaker's rules, but cannot be deployed by CloudFormation yet.
CLOUDFORMATION_SUPPORTS_COLLECTIONS = False


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def _literal(path: str, value: object, allowed: tuple[str, ...], problems: Problems) -> bool:
    if value not in allowed:
        problems.add(path, f"{value!r} is not allowed; expected one of {_one_of(allowed)}")
        return False
    return True


@dataclass(frozen=True)
class FeatureDefinition:
    """One feature: a name, a scalar type, and optionally a collection of that type (InMemory only)."""

    name: str
    type: FeatureType
    collection: CollectionType | None = None
    # Number of elements of a Vector (1-8192); only for collection "Vector".
    dimension: int | None = None

    def _check(self, path: str, problems: Problems) -> None:
        name = join(path, "name")
        if len(self.name) > MAX_NAME_LENGTH or not FEATURE_NAME.match(self.name):
            problems.add(
                name,
                f"{self.name!r} is not a valid feature name: 1-64 letters and digits, starting and ending with one, "
                "with single runs of '-' or '_' between (no spaces or dots)",
            )
        elif self.name.lower() in RESERVED_FEATURE_NAMES:
            problems.add(name, f"{self.name!r} is reserved by Feature Store (offline store columns: {', '.join(sorted(RESERVED_FEATURE_NAMES))})")
        _literal(join(path, "type"), self.type, get_args(FeatureType), problems)
        if self.collection is not None:
            _literal(join(path, "collection"), self.collection, get_args(CollectionType), problems)
        if self.collection == "Vector":
            if self.type != "Fractional":
                problems.add(join(path, "type"), f"{self.type!r} cannot be a Vector; Vector elements must be 'Fractional'")
            if self.dimension is None or not 1 <= self.dimension <= MAX_VECTOR_DIMENSION:
                problems.add(join(path, "dimension"), f"{self.dimension!r} is out of range; a Vector needs a dimension from 1 to {MAX_VECTOR_DIMENSION}")
        elif self.dimension is not None:
            problems.add(join(path, "dimension"), f"{self.dimension!r} is only allowed with collection 'Vector' (collection is {self.collection!r})")


@dataclass(frozen=True)
class TtlDuration:
    """How long a record lives in the online store after its event time; then it is hard-deleted."""

    value: int
    unit: TtlUnit = "Days"

    def _check(self, path: str, problems: Problems) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or not MIN_TTL <= self.value <= MAX_TTL:
            problems.add(join(path, "value"), f"{self.value!r} is out of range; the TTL value must be a whole number from {MIN_TTL} to {MAX_TTL}")
        _literal(join(path, "unit"), self.unit, get_args(TtlUnit), problems)


@dataclass(frozen=True)
class OnlineStoreOptions:
    """The low-latency store read at inference time: always CMK-encrypted (the key is a construct prop)."""

    storage_type: StorageType = "Standard"
    ttl: TtlDuration | None = None

    def _check(self, path: str, problems: Problems) -> None:
        _literal(join(path, "storage_type"), self.storage_type, get_args(StorageType), problems)
        if self.ttl is not None:
            self.ttl._check(join(path, "ttl"), problems)


@dataclass(frozen=True)
class OfflineStoreOptions:
    """The historical store for training and point-in-time queries: S3 (a CMK bucket prefix) + a Glue table."""

    table_format: TableFormat = "Iceberg"
    # Key prefix in the offline bucket; each feature group writes below <prefix>/<feature group name>/.
    prefix: str = "feature-store"

    def _check(self, path: str, problems: Problems) -> None:
        _literal(join(path, "table_format"), self.table_format, get_args(TableFormat), problems)
        if len(self.prefix) > 512 or not S3_PREFIX.match(self.prefix):
            problems.add(
                join(path, "prefix"),
                f"{self.prefix!r} is not a valid S3 key prefix: up to 512 letters, digits and !_.*'()- in segments "
                "separated by single '/', without a leading or trailing '/'",
            )


@dataclass(frozen=True)
class Throughput:
    """On-demand (pay per request) or provisioned capacity units."""

    mode: ThroughputMode = "OnDemand"
    read_capacity_units: int | None = None
    write_capacity_units: int | None = None

    def _check(self, path: str, problems: Problems, *, online: OnlineStoreOptions | None) -> None:
        if not _literal(join(path, "mode"), self.mode, get_args(ThroughputMode), problems):
            return
        units = {"read_capacity_units": self.read_capacity_units, "write_capacity_units": self.write_capacity_units}
        if self.mode == "OnDemand":
            for name, value in units.items():
                if value is not None:
                    problems.add(join(path, name), f"{value!r} is only allowed with mode 'Provisioned' (on-demand scales by itself)")
            return
        if online is not None and online.storage_type == "InMemory":
            problems.add(join(path, "mode"), "'Provisioned' is not supported with the InMemory online store; use 'OnDemand' or storage_type 'Standard'")
        needed = ["write_capacity_units"] + (["read_capacity_units"] if online is not None else [])
        for name, value in units.items():
            if name not in needed:
                if value is not None:
                    problems.add(join(path, name), f"{value!r} applies only to a feature group with an online store; this one is offline-only")
            elif value is None or not 1 <= value <= MAX_CAPACITY_UNITS:
                problems.add(join(path, name), f"{value!r} is out of range; mode 'Provisioned' needs 1 to {MAX_CAPACITY_UNITS} units")


def _default_online() -> OnlineStoreOptions | None:
    return OnlineStoreOptions()


def _default_offline() -> OfflineStoreOptions | None:
    return OfflineStoreOptions()


@dataclass(frozen=True)
class FeatureGroupDefinition:
    """A SageMaker feature group: its features, record identifier, event time and stores.

    ``online_store`` / ``offline_store`` set to None (``null`` in config) turns that store off; at least
    one must remain. The Glue table of the offline store is named after the group (see `table_name`).
    """

    name: str
    record_identifier: str
    event_time: str
    features: tuple[FeatureDefinition, ...]
    description: str = ""
    online_store: OnlineStoreOptions | None = field(default_factory=_default_online)
    offline_store: OfflineStoreOptions | None = field(default_factory=_default_offline)
    throughput: Throughput = field(default_factory=Throughput)

    @property
    def table_name(self) -> str:
        """The offline store's Glue/Athena table: the group name with '-' turned into '_'."""
        return self.name.replace("-", "_")

    def feature(self, name: str) -> FeatureDefinition | None:
        return next((f for f in self.features if f.name == name), None)

    def check(self, path: str, problems: Problems) -> None:
        if len(self.name) > MAX_NAME_LENGTH or not FEATURE_GROUP_NAME.match(self.name):
            problems.add(
                join(path, "name"),
                f"{self.name!r} is not a valid feature group name: 1-64 lowercase letters and digits, starting and ending "
                "with one, with single runs of '-' or '_' between",
            )
        if len(self.description) > MAX_DESCRIPTION:
            problems.add(join(path, "description"), f"is {len(self.description)} characters long; at most {MAX_DESCRIPTION} are allowed")
        self._check_features(join(path, "features"), problems)
        self._check_key_feature(join(path, "record_identifier"), self.record_identifier, "record identifier", get_args(FeatureType), problems)
        self._check_key_feature(join(path, "event_time"), self.event_time, "event time", EVENT_TIME_TYPES, problems)
        if self.record_identifier == self.event_time:
            problems.add(join(path, "event_time"), f"{self.event_time!r} is also the record identifier; use a separate event time feature")
        if self.online_store is None and self.offline_store is None:
            problems.add(path, "online_store and offline_store are both off; a feature group needs at least one store")
        if self.online_store is not None:
            self.online_store._check(join(path, "online_store"), problems)
        if self.offline_store is not None:
            self.offline_store._check(join(path, "offline_store"), problems)
        self.throughput._check(join(path, "throughput"), problems, online=self.online_store)

    def _check_features(self, path: str, problems: Problems) -> None:
        if not 2 <= len(self.features) <= MAX_FEATURES:
            problems.add(path, f"has {len(self.features)} feature(s); a feature group needs 2 to {MAX_FEATURES} (at least a record identifier and an event time)")
        seen: dict[str, int] = {}
        vectors: list[int] = []
        for i, feature in enumerate(self.features):
            feature._check(join(path, i), problems)
            # Offline store columns (Glue, Athena) are case-insensitive, so 'Spend' and 'spend' collide.
            key = feature.name.lower()
            if key in seen:
                first = self.features[seen[key]].name
                problems.add(join(join(path, i), "name"), f"duplicate feature name {feature.name!r} (first at index {seen[key]} as {first!r}; names are case-insensitive)")
            else:
                seen[key] = i
            if feature.collection is None:
                continue
            if feature.collection == "Vector":
                vectors.append(i)
            if self.online_store is None or self.online_store.storage_type != "InMemory":
                problems.add(join(join(path, i), "collection"), f"{feature.collection!r} needs online_store.storage_type 'InMemory' (only that tier stores collections)")
            if not CLOUDFORMATION_SUPPORTS_COLLECTIONS:
                problems.add(
                    join(join(path, i), "collection"),
                    f"{feature.collection!r} cannot be deployed: CloudFormation's AWS::SageMaker::FeatureGroup accepts only "
                    "FeatureName and FeatureType; declare a scalar feature (e.g. a String holding JSON) instead",
                )
        for i in vectors[1:]:
            problems.add(join(join(path, i), "collection"), f"a feature group may hold only one Vector feature (first at index {vectors[0]})")

    def _check_key_feature(self, path: str, name: str, role: str, types: Sequence[str], problems: Problems) -> None:
        feature = self.feature(name)
        if feature is None:
            known = ", ".join(repr(f.name) for f in self.features[:10]) or "none"
            problems.add(path, f"{name!r} is not one of the features ({known}); the {role} must be a declared feature")
            return
        if feature.collection is not None:
            problems.add(path, f"{name!r} is a {feature.collection}; the {role} must be a single value")
        if feature.type not in types:
            problems.add(path, f"{name!r} has type {feature.type!r}; the {role} must be {' or '.join(repr(t) for t in types)}")


def check_feature_groups(groups: Sequence[FeatureGroupDefinition], path: str, problems: Problems) -> None:
    """Across groups of one account: names and the Glue table names derived from them must be unique."""
    seen: dict[str, int] = {}
    for i, group in enumerate(groups):
        if group.table_name in seen:
            first = groups[seen[group.table_name]].name
            problems.add(
                join(join(path, i), "name"),
                f"duplicate feature group {group.name!r}: it and {first!r} (index {seen[group.table_name]}) share the offline table name {group.table_name!r}",
            )
        else:
            seen[group.table_name] = i
