"""`buildopt promote` output: the preflight and plan, then what happened (stdout), plus the one-line
verdict for stderr when the promote did not go through."""

from __future__ import annotations

from ..units import format_size

_INDENT = " " * 14


def render(outcome) -> str:
    lines = [_title(outcome)]
    if outcome.preflight is not None:
        lines += _preflight_lines(outcome.preflight)
    if outcome.action in ("plan", "rollback-plan", "refused"):
        lines += _plan_lines(outcome)
    else:
        lines += _result_lines(outcome)
    return "\n".join(lines) + "\n"


def verdict_line(outcome) -> str | None:
    """The stderr line for a promote that did not go through (None when it did)."""
    name = outcome.service.name
    if outcome.action == "refused":
        return f"buildopt: error: promote of {name} refused by the preflight ({len(outcome.preflight.refusals)} " \
               "reason(s) above); nothing was changed"
    if outcome.action == "rolled-back" and outcome.health is not None and not outcome.health.ok:
        return f"buildopt: error: {outcome.record.new_ref} failed on {name} ({outcome.reason}); rolled back to " \
               f"{outcome.record.backup_tag}, healthy again"
    if outcome.action == "rollback-failed":
        return f"buildopt: error: {name} is NOT healthy after the rollback ({outcome.rollback_health.detail}); " \
               f"see {outcome.state.path} and `docker compose logs {name}`"
    return None


def _title(outcome) -> str:
    service = outcome.service
    what = "rollback of" if outcome.action.startswith("roll") and outcome.preflight is None else "promote"
    return f"buildopt {what} {service.name} (project {service.project}, {service.compose_file})"


def _preflight_lines(pre) -> list[str]:
    state = pre.container["State"].get("Status")
    rows = [
        ("container", f"{pre.container_name} ({state}), created from {pre.original_ref}"),
        ("old image", _image(pre.old, None)),
        ("new image", _image(pre.new, pre.new_facts.user)),
        ("GPU", pre.gpu.describe()),
    ]
    torch = []
    runtime = pre.old_runtime
    if runtime is not None and runtime.torch is not None:
        torch.append(f"running container: {runtime.torch.describe()}")
    elif runtime is not None and runtime.error is None:
        torch.append("running container: no torch")
    if pre.new_facts.torch is not None:
        torch.append(f"new image: {pre.new_facts.torch.describe()}")
    elif pre.new_facts.error is None:
        torch.append("new image: no torch")
    if torch:
        rows.append(("torch", torch))
    rows.append(("mounts", [_mount(m, pre.new_facts.user) for m in pre.mounts] or ["none"]))
    if pre.env_changes:
        rows.append(("env", [f"{c.key}: {c.old!r} (old image) -> {'unset' if c.new is None else repr(c.new)}"
                             for c in pre.env_changes[:10]]))
    rows.append(("health", [f"new image: {pre.new_probe.detail}", f"rollback: {pre.old_probe.detail}"]))
    lines = []
    for label, value in rows:
        values = value if isinstance(value, list) else [value]
        lines.append(f"  {label:<11} {values[0]}")
        lines += [f"{_INDENT}{v}" for v in values[1:]]
    return lines


def _plan_lines(outcome) -> list[str]:
    lines = []
    pre = outcome.preflight
    if pre is not None and pre.refusals:
        lines += ["", "Refused:"] + [f"  - {reason}" for reason in pre.refusals]
        if pre.fixes:
            lines += ["To fix, then run promote again:"] + [f"  $ {fix}" for fix in pre.fixes]
    elif outcome.steps:
        lines += ["", "Plan:"] + [f"  {n}. {step}" for n, step in enumerate(outcome.steps, 1)]
    if pre is not None and pre.warnings:
        lines += ["Warnings:"] + [f"  - {warning}" for warning in pre.warnings]
    if outcome.action == "rollback-plan" and outcome.record is not None:
        record = outcome.record
        lines.insert(0, f"  last promote  {record.started}: {record.new_ref} ({record.status}), backup {record.backup_tag}")
    if outcome.action in ("plan", "rollback-plan"):
        lines.append("dry run: nothing was changed")
    return lines


def _result_lines(outcome) -> list[str]:
    record = outcome.record
    lines = [""]
    if outcome.action == "promoted":
        lines.append(f"promoted {outcome.service.name} to {record.new_ref}: {outcome.health.detail}; "
                     f"{outcome.seconds:.1f} s in all")
        reclaim = outcome.reclaim
        if record.retagged:
            lines.append(f"  tag         {record.retagged} now names the new image too (a plain `docker compose up` keeps it)")
        if reclaim is not None:
            size = f"{format_size(reclaim.old_size)} -> {format_size(reclaim.new_size)}"
            if reclaim.held_by:
                lines.append(f"  size        {size}; pruning the backup frees nothing yet: the old image is also held by "
                             f"{', '.join(reclaim.held_by)}")
            else:
                lines.append(f"  size        {size}; pruning the backup frees {format_size(reclaim.frees)} "
                             "(the old image's layers no other image shares)")
        lines.append(f"  backup      {record.backup_tag} ({record.old_image_id[:19]}); "
                     f"`buildopt promote {outcome.service.name} --rollback` goes back to it")
        lines.append(f"  prune       {outcome.prune_command}")
    elif outcome.action in ("rolled-back", "rollback-failed"):
        health = outcome.health
        if health is not None and not health.ok:
            lines.append(f"the new image failed: {health.detail}")
        if outcome.logs:
            who = health.container if health is not None and health.container else "the container"
            lines.append(f"last {len(outcome.logs)} log lines of {who}:")
            lines += _collapsed(outcome.logs)
        back = outcome.rollback_health
        verb = "rolled back" if outcome.action == "rolled-back" else "ROLLBACK FAILED"
        lines.append(f"{verb}: {outcome.service.name} runs the old image {record.old_image_id[:19]} again "
                     f"({record.override_image or record.service_ref}): {back.detail if back else '-'}")
        if outcome.action == "rolled-back":
            lines.append(f"  backup      {record.backup_tag} kept; remove it when you no longer need it: "
                         f"{outcome.prune_command}")
    override = outcome.state.override_path
    images = outcome.state.override_images()
    if not images:
        lines.append(f"  override    {override.name} removed (no service needs it)")
    elif record is not None and record.retagged and outcome.action == "promoted":
        lines.append(f"  override    {override.name} kept: it records the swap, and --rollback removes it")
    else:
        lines.append(f"  override    {override.name} kept: it sets "
                     + ", ".join(f"services.{s}.image = {i}" for s, i in sorted(images.items()))
                     + "; pass it with -f after your compose files (or put that image in them), or the next "
                       "`docker compose up` goes back to the compose file's image")
    lines.append(f"  state       {outcome.state.path}")
    return lines


def _image(info, user) -> str:
    who = user.describe() if user is not None else f"user {info.user or 'root'}"
    return f"{info.ref}  {info.id[:19]}  {format_size(info.size)}  {who}"


def _mount(mount, user) -> str:
    text = mount.describe()
    if not mount.carried:
        return text + ": NOT carried over by compose"
    access = mount.access
    if access is None or not mount.writable:
        return text
    if access.error:
        return text + f": not checked ({access.error})"
    who = f"uid {user.uid}" if user is not None else "the new user"
    if access.top_writable and not access.not_writable:
        return text + f": {who} can write it ({_entries(access.checked)} checked)"
    return text + f": {who} can NOT write it (owner {access.owner}:{access.group}, mode {access.mode}; " \
                  f"{access.not_writable} of {_entries(access.checked)} not writable)"


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _collapsed(lines: list[str]) -> list[str]:
    """Log lines, a run of identical ones shown once with its count."""
    out: list[list] = []
    for line in lines:
        if out and out[-1][0] == line:
            out[-1][1] += 1
        else:
            out.append([line, 1])
    return [f"  | {line}" + (f"   (x{count})" if count > 1 else "") for line, count in out]
