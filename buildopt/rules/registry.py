"""The rule registry: one ordered table of the rules analyze runs. Each rule carries its own id, slug, default
severity, title and fix; ids and slugs are contracts (never renumber or rename, only add). Adding a rule is a new
module and one line here.
"""

from __future__ import annotations

from ..errors import BadInput
from .base import Rule
from .base_image import EolPython, FullBaseImage, LatestTag
from .build_tools import SingleStageBuildTools
from .caches import AptListsLeft, AptRecommends, PipCache
from .dependencies import AllExtras, CacheBustingCopy, InlinePipInstall
from .dockerignore import NoDockerignore
from .healthcheck import NoHealthcheck, TrivialHealthcheck
from .models import BakedModel
from .packages import HeavyRuntimePackage
from .remote import AddRemoteUrl
from .secrets import SecretInEnv
from .torch import CudaTorch
from .user import RootOwnedWritableDir, RootUser

RULES: tuple[Rule, ...] = (
    RootUser(),
    SingleStageBuildTools(),
    CudaTorch(),
    BakedModel(),
    PipCache(),
    AptRecommends(),
    AptListsLeft(),
    AllExtras(),
    HeavyRuntimePackage(),
    EolPython(),
    FullBaseImage(),
    LatestTag(),
    NoHealthcheck(),
    TrivialHealthcheck(),
    CacheBustingCopy(),
    InlinePipInstall(),
    SecretInEnv(),
    AddRemoteUrl(),
    RootOwnedWritableDir(),
    NoDockerignore(),
)
RULE_IDS: dict[str, tuple[str, object]] = {rule.id: (rule.slug, rule.severity) for rule in RULES}
SLUG_TO_ID: dict[str, str] = {rule.slug: rule.id for rule in RULES}
_BY_ID = {rule.id: rule for rule in RULES}
if len(_BY_ID) != len(RULES) or len(SLUG_TO_ID) != len(RULES) or [r.id for r in RULES] != sorted(_BY_ID):
    raise RuntimeError("rules/registry.py: rule ids and slugs must be unique and listed in id order")


def all_rules() -> list[Rule]:
    return list(RULES)


def rule_by_id(rule_id: str) -> Rule:
    return _BY_ID[rule_id]


def rule_id_of(name: str, where: str = "") -> str:
    """A rule id from an id (any case) or a slug; BadInput naming `where` for anything else."""
    text = name.strip()
    if text.upper() in _BY_ID:
        return text.upper()
    if text.lower() in SLUG_TO_ID:
        return SLUG_TO_ID[text.lower()]
    prefix = f"{where}: " if where else ""
    raise BadInput(f"{prefix}unknown rule {name!r} (use an id like BO105 or a slug like pip-cache; see docs/rules.md)")
