"""heavy-runtime-package (BO109): LibreOffice, TeX Live, a JDK, a browser... inside the service image.

The audit's advice for rag-anything: run the heavy converter as a separate service and call it over
HTTP, so the Python service image stays small and the two are updated independently.
"""

from __future__ import annotations

from ..estimates import LIBREOFFICE_AUDIT, apt_packages_estimate
from ..knowledge import heavy_runtime
from ..severity import Severity
from ..shell import program
from ..units import format_size
from .base import Rule
from .context import RuleContext


def heavy_packages(packages: list[str]) -> list[tuple[str, str, str]]:
    """(package, family, advice) for each heavy package in the list."""
    found = []
    for package in packages:
        heavy = heavy_runtime(package)
        if heavy is not None:
            found.append((package.split("=", 1)[0].lower(), *heavy))
    return found


class HeavyRuntimePackage(Rule):
    id = "BO109"
    slug = "heavy-runtime-package"
    severity = Severity.MEDIUM
    title = "A heavy runtime (LibreOffice, TeX Live, a JDK, a browser) is installed in the service image"
    fix = "Move it to a separate service the app calls over HTTP, so this image carries only the Python service."
    scope = "stages that end up in the final image"

    def check(self, ctx: RuleContext):
        for facts in ctx.shipped:
            for site in facts.runs:
                heavy: list[tuple[str, str, str]] = []
                recommends = False
                for call in site.packages:
                    if call.installs:
                        found = heavy_packages(call.packages)
                        heavy.extend(found)
                        recommends = recommends or (bool(found) and not call.no_recommends)
                for argv in site.commands:
                    if (program(argv) == "playwright" or argv[1:3] == ["-m", "playwright"]) and "install" in argv:
                        heavy.append(("playwright browsers", "a web browser",
                                      "use a separate headless-browser service (e.g. browserless) called over the network"))
                if not heavy:
                    continue
                names = list(dict.fromkeys(name for name, _, _ in heavy))
                estimate = apt_packages_estimate(names, recommends)
                size = f" ({estimate.describe()}" if estimate else ""
                if size and any(family == "LibreOffice" for _, family, _ in heavy):
                    size += f"; the audit estimated ~{format_size(LIBREOFFICE_AUDIT.bytes)}"
                size += ")" if size else ""
                families = list(dict.fromkeys(family for _, family, _ in heavy))
                advice = "; ".join(dict.fromkeys(advice for _, _, advice in heavy))
                yield self.finding(site.ins, f"{' and '.join(families)} in the service image: {', '.join(names)}{size}",
                                   fix=advice[0].upper() + advice[1:] + ".", estimate=estimate)
