"""Who may do what: the one place permission rules live.

API views, portal views and services all ask these functions. Objects from other apps are passed
in (duck-typed: anything with `team_id`, `owner_id`, `developer_ids`), so governance imports no
other app. Each `explain_*` returns None when allowed, or the sentence of the rule that refused.
"""

from __future__ import annotations

from governance.choices import Role


def is_auditor_only(user) -> bool:
    """Auditors read everything and change nothing, whatever other flags they carry."""
    return user.has_role(Role.AUDITOR) and not user.has_role(Role.ADMIN)


def is_admin(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.has_role(Role.ADMIN)))


def can_read_everything(user) -> bool:
    """Governance roles see the whole inventory; engineers see their teams' models."""
    if not user.is_authenticated:
        return False
    return is_admin(user) or bool(
        user.role_names
        & {Role.AUDITOR, Role.VALIDATOR, Role.COMPLIANCE, Role.BUSINESS_APPROVER}
    )


def explain_cannot_write(user) -> str | None:
    if not user.is_authenticated:
        return "Sign in first."
    if is_auditor_only(user):
        return "Auditors have read-only access: they can read everything and change nothing."
    return None


def explain_cannot_create_in_team(user, team_id: int | None) -> str | None:
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user):
        return None
    if team_id is None or team_id not in user.team_ids:
        return "Only members of the owning team (or admins) may do this."
    return None


def explain_cannot_edit_model(user, model) -> str | None:
    """Editing a model and registering its versions: owning team members and admins."""
    return explain_cannot_create_in_team(user, model.team_id)


def explain_cannot_edit_dataset(user, dataset) -> str | None:
    return explain_cannot_create_in_team(user, dataset.team_id)


def can_view_model(user, model) -> bool:
    return can_read_everything(user) or model.team_id in user.team_ids


def is_model_owner_or_developer(user, model, developer_ids: frozenset[int] | None = None) -> bool:
    if model.owner_id == user.pk:
        return True
    if developer_ids is None:
        developer_ids = frozenset(model.developers.values_list("id", flat=True))
    return user.pk in developer_ids


# --- promotion requests: who may request, and segregation of duties for deciding -----------


def explain_cannot_request_promotion(user, model, developer_ids: frozenset[int]) -> str | None:
    """Only the model's owner and its developers may ask for a promotion."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if not is_model_owner_or_developer(user, model, developer_ids):
        return "Only the model's owner and its developers may request a promotion."
    return None


def explain_cannot_decide(
    user,
    *,
    role: str,
    required_roles: list[str],
    filled_roles: set[str],
    requester_id: int,
    version_creator_id: int | None,
    developer_ids: frozenset[int],
    approver_ids: set[int],
) -> str | None:
    """Segregation of duties on a promotion decision; the sentence names the rule that refused."""
    if not user.is_authenticated:
        return "Sign in first."
    if user.has_role(Role.AUDITOR) and not user.has_role(Role.ADMIN):
        return "Auditors never decide on promotions: they read everything and change nothing."
    if not user.has_role(role):
        return f"You do not hold the role '{role}', so you cannot decide in that role."
    if role not in required_roles:
        return (
            f"The role '{role}' is not required on this request (required: "
            f"{', '.join(required_roles)})."
        )
    if user.pk == requester_id:
        return "Segregation of duties: nobody decides on a promotion request they made."
    if user.pk == version_creator_id:
        return "Segregation of duties: nobody decides on a model version they registered."
    if user.pk in developer_ids:
        return "Segregation of duties: developers of a model do not decide on its promotion."
    if user.pk in approver_ids:
        return "Segregation of duties: one person fills at most one role on a request."
    if role in filled_roles:
        return f"The role '{role}' has already approved this request."
    return None


def explain_cannot_rollback(user, model) -> str | None:
    """Emergency rollback: validators and the model's owner."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if user.has_role(Role.VALIDATOR) or model.owner_id == user.pk or is_admin(user):
        return None
    return "Only a validator or the model's owner may roll back a production version."


# --- governance records: policies, risk, documentation, findings --------------------------

#: Second-line roles: they review models, open findings and read everything.
SECOND_LINE = frozenset({Role.VALIDATOR, Role.COMPLIANCE})


def explain_cannot_manage_policies(user) -> str | None:
    """Tier policies and templates are edited by admins only (each edit is a new version)."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if not is_admin(user):
        return "Only administrators may publish a tier policy."
    return None


def explain_cannot_assess_risk(user, model) -> str | None:
    """The owning team fills in the risk questionnaire; validators and compliance may too."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user) or user.role_names & SECOND_LINE or model.team_id in user.team_ids:
        return None
    return "Only the owning team, validators, compliance or admins may assess a model's risk."


def explain_cannot_override_risk(user) -> str | None:
    """Only a validator (the model risk officer) may override a computed risk tier."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if not user.has_role(Role.VALIDATOR):
        return "Only a validator may override a computed risk tier."
    return None


def _is_first_line(user, model) -> bool:
    return bool(
        model.team_id in user.team_ids
        or model.owner_id == user.pk
        or is_model_owner_or_developer(user, model)
    )


def explain_cannot_edit_documentation(user, model) -> str | None:
    """The model's owning team (its owner and developers) and admins write its documentation."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user) or _is_first_line(user, model):
        return None
    return "Only the owning team (or an admin) may edit a model's documentation."


def explain_cannot_sign_off(user, model) -> str | None:
    """Only the model owner signs off its documentation."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if model.owner_id is None or model.owner_id != user.pk:
        return "Only the model's owner may sign off its documentation."
    return None


def explain_cannot_open_finding(user, model) -> str | None:
    """Validators and compliance raise findings; they must be able to see the model."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if not user.role_names & SECOND_LINE:
        return "Only validators and compliance may open a finding."
    return None


def explain_cannot_respond_to_finding(user, model) -> str | None:
    """The validator's challenge and the developers' answers: second line and the owning team."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user) or user.role_names & SECOND_LINE or _is_first_line(user, model):
        return None
    return "Only the owning team, validators and compliance may respond to a finding."


def explain_cannot_move_finding(user, model, finding_owner_id: int | None, to_status: str) -> str | None:
    """The owning team (or the finding's owner) marks a finding remediated; only a validator
    accepts, closes or reopens it (the second line judges the first line's answer)."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if to_status == "remediated":
        if _is_first_line(user, model) or user.pk == finding_owner_id or user.has_role(Role.VALIDATOR):
            return None
        return "Only the owning team or the finding's owner may mark a finding remediated."
    if not user.has_role(Role.VALIDATOR):
        return "Only a validator may accept, close or reopen a finding."
    return None


def is_second_line_or_admin(user) -> bool:
    """Validators, compliance and admins: who may undo or loosen what the second line set."""
    return bool(user.is_authenticated and (is_admin(user) or user.role_names & SECOND_LINE))


def explain_cannot_edit_use_restrictions(user, model) -> str | None:
    """Use restrictions are recorded (and withdrawn) by the owning team, validators and
    compliance: the first line knows the uses, the second line may restrict them."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user) or user.role_names & SECOND_LINE or _is_first_line(user, model):
        return None
    return "Only the owning team, validators, compliance or admins may record a model's use restrictions."


def explain_cannot_withdraw_use_restriction(user, model, *, imposed_by_second_line: bool) -> str | None:
    """Withdrawing: as recording, except that a restriction the second line imposed (its
    recorder is a validator, compliance or an admin) is withdrawn only by the second line or
    an admin; the owning team cannot lift a restriction put on it."""
    refusal = explain_cannot_edit_use_restrictions(user, model)
    if refusal:
        return refusal
    if imposed_by_second_line and not is_second_line_or_admin(user):
        return ("This restriction was imposed by the second line (a validator, compliance or an "
                "admin recorded it): only validators, compliance or admins may withdraw it.")
    return None


def explain_cannot_view_challenge(user) -> str | None:
    """Effective challenge figures (per validator): for the head of model risk, i.e. the risk
    and compliance roles, auditors and admins; not for the first line they measure."""
    if not user.is_authenticated:
        return "Sign in first."
    if is_admin(user) or user.role_names & {Role.VALIDATOR, Role.COMPLIANCE, Role.AUDITOR}:
        return None
    return "Only validators, compliance, auditors and admins may see the effective challenge figures."


# --- policy exceptions: who may ask, who may approve -------------------------------------


def explain_cannot_request_exception(user, model, developer_ids: frozenset[int]) -> str | None:
    """A waiver of a gate is asked for by those who would ask for the promotion: the model's
    owner and developers."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if not is_model_owner_or_developer(user, model, developer_ids):
        return "Only the model's owner and its developers may request a policy exception."
    return None


def explain_cannot_decide_exception(
    user, *, role: str, approver_roles: list[str], filled_roles: set[str], requester_id: int,
    version_creator_id: int | None, developer_ids: frozenset[int], approver_ids: set[int],
) -> str | None:
    """A policy exception is approved by the roles the tier policy names, never by the person
    who asked for it, the person who registered the version (as for promotions) nor the model's
    developers, one role per person."""
    if not user.is_authenticated:
        return "Sign in first."
    if is_auditor_only(user):
        return "Auditors have read-only access: they can read everything and change nothing."
    if user.pk == requester_id:
        return "Segregation of duties: nobody decides on a policy exception they requested."
    if user.pk == version_creator_id:
        return ("Segregation of duties: nobody decides on a policy exception for a model version "
                "they registered.")
    if not user.has_role(role):
        return f"You do not hold the role '{role}', so you cannot decide in that role."
    if role not in approver_roles:
        return (f"The role '{role}' does not approve policy exceptions under this policy "
                f"(approvers: {', '.join(approver_roles)}).")
    if user.pk in developer_ids:
        return "Segregation of duties: developers of a model do not decide on its exceptions."
    if user.pk in approver_ids:
        return "Segregation of duties: one person fills at most one role on an exception."
    if role in filled_roles:
        return f"The role '{role}' has already approved this exception."
    return None


def explain_cannot_manage_monitoring_plan(user, model) -> str | None:
    """A model's post-market monitoring plan: its owning team, validators, compliance, admins."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user) or user.role_names & SECOND_LINE or _is_first_line(user, model):
        return None
    return ("Only the owning team, validators, compliance or admins may change a model's "
            "monitoring plan.")


#: Roles that see every model (`can_read_everything`), named for queries of who can see one.
READ_EVERYTHING_ROLES = frozenset(
    {Role.AUDITOR, Role.VALIDATOR, Role.COMPLIANCE, Role.BUSINESS_APPROVER, Role.ADMIN})


def explain_cannot_loosen_monitoring(user, changes: list[str]) -> str | None:
    """Loosening a threshold (alerting later, or with a lower finding severity) or retiring a
    watched metric: the second line or an admin; the owning team may tighten and add."""
    if not changes or is_second_line_or_admin(user):
        return None
    return ("Only validators, compliance or admins may loosen or retire a monitoring threshold "
            f"(the owning team may tighten and add): {'; '.join(changes)}.")


def explain_cannot_be_responsible_for_monitoring(user, model) -> str | None:
    """The person responsible for a model's monitoring must be able to act: active, not an
    auditor, and able to see the model."""
    if user is None or not user.is_active:
        return "Name an active user responsible for the monitoring."
    if is_auditor_only(user):
        return "An auditor cannot be responsible: auditors change nothing."
    if not can_view_model(user, model):
        return (f"{user.username} cannot see {model.name}: name a member of the owning team or "
                "someone in a governance role.")
    return None


def explain_cannot_handle_incident(user, model) -> str | None:
    """Reporting an incident and moving it through investigation to closure: the owning team,
    validators, compliance and admins (auditors read it)."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if is_admin(user) or user.role_names & SECOND_LINE or _is_first_line(user, model):
        return None
    return "Only the owning team, validators, compliance or admins may report or handle an incident."


def explain_cannot_download_dataset_file(user, dataset) -> str | None:
    """Dataset records are visible to every team; the raw file of one holding personal data is
    for its own team and the roles that read everything (data minimisation)."""
    if not dataset.contains_personal_data:
        return None
    if can_read_everything(user) or dataset.team_id in user.team_ids:
        return None
    return (f"Dataset {dataset.name!r} holds personal data: its files are downloadable by its "
            "own team and by validators, compliance, auditors and admins.")


def explain_cannot_verify_audit_trail(user) -> str | None:
    """A full verification reads every event: auditors, validators, compliance and admins."""
    if "verify_audit_trail" in capabilities(user):
        return None
    return ("Full verification of the audit log is for auditors, validators, compliance and "
            "admins; anyone can check a checkpoint and an inclusion proof "
            "(/api/v1/audit/checkpoints/latest/, tools/gatehouse_verify.py).")


#: The moves of a serious incident the second line makes (Art. 73: the first line does not
#: sign off its own serious incident to the authority, nor lift its promotion block).
SECOND_LINE_INCIDENT_MOVES = frozenset({"reported_to_authority", "closed"})


def explain_cannot_move_incident(user, model, *, serious: bool, to_status: str) -> str | None:
    """Every handler may investigate (and note) an incident; a serious one is reported to the
    authority and closed only by validators, compliance or admins."""
    refusal = explain_cannot_handle_incident(user, model)
    if refusal:
        return refusal
    if serious and to_status in SECOND_LINE_INCIDENT_MOVES and not is_second_line_or_admin(user):
        return ("Only validators, compliance or admins may report a serious incident to the "
                "authority or close it; the owning team may investigate it and add notes.")
    return None


def explain_cannot_reclassify_incident(user) -> str | None:
    """Upgrading or downgrading an incident's seriousness (and its kind): the second line."""
    refusal = explain_cannot_write(user)
    if refusal:
        return refusal
    if not is_second_line_or_admin(user):
        return "Only validators, compliance or admins may reclassify an incident."
    return None


def capabilities(user) -> list[str]:
    """What the user may do, for the API (`/api/v1/me/`) and the portal to show."""
    if not user.is_authenticated:
        return []
    if is_auditor_only(user):
        return ["read_everything", "read_only", "verify_audit_trail", "export_audit_trail"]
    roles = user.role_names
    caps: set[str] = set()
    if can_read_everything(user):
        caps.add("read_everything")
    if is_admin(user):
        caps |= {"manage_policies", "manage_users", "register_models", "edit_documentation"}
    if Role.ENGINEER in roles or Role.MODEL_OWNER in roles:
        caps |= {"register_models", "register_versions", "run_jobs", "assess_risk",
                 "edit_documentation", "request_promotions", "respond_to_findings"}
    if Role.MODEL_OWNER in roles:
        caps |= {"sign_off_documentation"}
    if Role.VALIDATOR in roles:
        caps |= {"override_risk_tier", "open_findings", "close_findings", "decide_promotions",
                 "assess_risk", "respond_to_findings", "rollback"}
    if Role.COMPLIANCE in roles:
        caps |= {"open_findings", "decide_promotions", "assess_risk", "respond_to_findings"}
    if Role.BUSINESS_APPROVER in roles:
        caps.add("decide_promotions")
    if roles & {Role.AUDITOR, Role.VALIDATOR, Role.COMPLIANCE} or is_admin(user):
        caps |= {"verify_audit_trail", "export_audit_trail"}
    return sorted(caps)
