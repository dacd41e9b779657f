#!/usr/bin/env python3
"""The estate app: one Stage per account role, with the policy gates on. `cdk synth` needs no credentials."""

from pathlib import Path

from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.stacks.estate import build_estate, config_errors_exit, estate_app

with config_errors_exit():
    app, config = estate_app(Path(__file__).resolve().parent / "cdk.json")
    build_estate(app, config)
apply_nag_packs(app)
app.synth()
