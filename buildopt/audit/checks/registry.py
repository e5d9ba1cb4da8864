"""The audit's checks in one ordered table: findings come out in this order (the report then sorts them by
severity and bytes). Each check carries its own slug, severity floor, title and fix; slugs are contracts
(report.json, docs/audit.md). Adding a check is a new module and one line here.
"""

from __future__ import annotations

from .base import Check
from .caches import PackageCache
from .cuda import CudaWithoutGpu
from .eol_python import EolPython
from .healthcheck import NoHealthcheck, TrivialHealthcheck
from .heavy_packages import HeavyRuntimePackage
from .hidden_copies import HiddenCopies
from .models import BakedModel
from .toolchain import BuildToolchain
from .user import RootUser

CHECKS: tuple[Check, ...] = (
    RootUser(),
    NoHealthcheck(),
    TrivialHealthcheck(),
    CudaWithoutGpu(),
    BakedModel(),
    BuildToolchain(),
    HeavyRuntimePackage(),
    PackageCache(),
    HiddenCopies(),
    EolPython(),
)
if len({check.slug for check in CHECKS}) != len(CHECKS):
    raise RuntimeError("audit/checks/registry.py: each check has its own slug")
