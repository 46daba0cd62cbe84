"""Who may start, cancel and retry jobs, built on governance.permissions (the shared rules).

Each `explain_*` returns None when allowed, or the sentence of the rule that refused.
"""

from __future__ import annotations

from governance import permissions as perms
from governance.choices import Role

START_RULE = (
    "Only members of the model's owning team, validators and admins may start jobs on a model."
)
MANAGE_RULE = (
    "Only the person who started a job, members of the model's owning team and admins may "
    "cancel or retry it."
)


def explain_cannot_start_job(user, model) -> str | None:
    """Owning team members (their own analyses), validators (challenger analyses) and admins."""
    refusal = perms.explain_cannot_write(user)
    if refusal:
        return refusal
    if perms.is_admin(user) or user.has_role(Role.VALIDATOR) or model.team_id in user.team_ids:
        return None
    return START_RULE


def explain_cannot_manage_job(user, job) -> str | None:
    """Cancel / retry: the job's starter, the owning team and admins (not other validators)."""
    refusal = perms.explain_cannot_write(user)
    if refusal:
        return refusal
    model = job.model_version.model
    if perms.is_admin(user) or job.created_by_id == user.pk or model.team_id in user.team_ids:
        return None
    return MANAGE_RULE


def can_view_job(user, job) -> bool:
    return perms.can_view_model(user, job.model_version.model)
