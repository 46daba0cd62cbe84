"""Governance: who may do what, under which rules, and the record of it."""


def notify(user_ids, subject: str, body: str, link: str = "") -> None:
    """Notify users after the current transaction commits (see governance.notifications)."""
    from governance.notifications import notify as _notify

    _notify(user_ids, subject, body, link)
