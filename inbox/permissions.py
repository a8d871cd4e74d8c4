"""Who may do what: the one permission table of every role and of every web route.

The web app checks each request against ROUTES (method, route path -> permission) in a
single place and refuses to start when a route is missing here, so no route exists without
a permission. The README's roles table is `markdown_table()` (a test keeps them equal).
"""

from __future__ import annotations

from typing import NamedTuple

from inbox.model import Role, User

PUBLIC = "public"  # anyone, signed in or not (sign-in page, web forms, health check)

# What each permission lets a role do, in the order the README lists them.
PERMISSION_HELP: dict[str, str] = {
    PUBLIC: "anyone, signed in or not",
    "signed_in": "who am I, own settings (time zone), own notifications (mentions, "
                 "assignments, spike alerts of subscribed saved searches)",
    "search": "search, voice of the customer (the customers' own messages), CSV export "
              "(marketing: inbound customer messages only, contacts hidden), the listening "
              "rules with their volume, cost, share of voice and top hits",
    "read": "the inbox, conversations with notes and replies, customers, live updates, "
            "who else is viewing or typing",
    "work": "reply, note, assign, set status, tags and priority, mark a customer VIP, snooze, "
            "bulk actions, "
            "correct a customer message's sentiment, make a listening hit a care conversation, "
            "merge customers, merge conversations and split messages into a new one (and "
            "undo those), link conversations to an incident and send its updates to every "
            "linked customer",
    "report": "SLA reports; the team's replies in the voice of the customer (QA)",
    "manage": "connector status",
    "canned": "add, edit and delete the team's canned replies",
    "acks": "edit the templates of what customers are told automatically (acknowledgements "
            "with the expected answer time, still-working-on-it updates)",
    "listening": "add, edit, pause, resume and delete the X listening rules (everyone who "
                 "may search sees them, their volume, cost and share of voice)",
    "searches": "rename and delete anyone's saved search (everyone who may search saves "
                "searches, renames and deletes their own, and subscribes to spike alerts)",
    "incidents": "create an incident (an outage) and resolve it with every linked open "
                 "conversation (agents link conversations and send its updates)",
    "admin": "dead letters, users and tokens, connector states",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.AGENT: frozenset({"signed_in", "search", "read", "work"}),
    Role.MANAGER: frozenset({"signed_in", "search", "read", "work", "report", "manage",
                             "canned", "searches", "listening", "incidents", "acks"}),
    Role.MARKETING: frozenset({"signed_in", "search", "listening"}),
    Role.ADMIN: frozenset(PERMISSION_HELP) - {PUBLIC},
}


class Route(NamedTuple):
    method: str
    path: str  # as registered on the router ("/conversations/{id}")
    permission: str


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", PUBLIC),  # redirects to the role's start page or the sign-in page
    Route("GET", "/login", PUBLIC),
    Route("POST", "/login", PUBLIC),
    Route("POST", "/logout", PUBLIC),
    Route("GET", "/healthz", PUBLIC),
    Route("GET", "/static/{name}", PUBLIC),
    Route("GET", "/forms/{slug}", PUBLIC),
    Route("POST", "/forms/{slug}", PUBLIC),
    Route("POST", "/api/forms/{slug}", PUBLIC),
    Route("GET", "/csat/{token}", PUBLIC),  # a customer's survey: the token is the credential
    Route("POST", "/csat/{token}", PUBLIC),
    Route("GET", "/api/me", "signed_in"),
    Route("GET", "/settings", "signed_in"),
    Route("POST", "/settings", "signed_in"),
    Route("GET", "/search", "search"),
    Route("GET", "/voc", "search"),
    Route("GET", "/voc/volume.svg", "search"),
    Route("GET", "/api/search", "search"),
    Route("GET", "/api/search/export.csv", "search"),
    Route("GET", "/api/voc", "search"),
    Route("GET", "/api/voc/export.csv", "search"),
    # saved searches: the owner, or "searches", renames and deletes (inbox.usecases)
    Route("GET", "/voc/saved", "search"),
    Route("GET", "/voc/crisis", "search"),
    Route("POST", "/voc/saved/{action}", "search"),
    Route("GET", "/api/saved-searches", "search"),
    Route("POST", "/api/saved-searches", "search"),
    Route("PUT", "/api/saved-searches/{id}", "search"),
    Route("DELETE", "/api/saved-searches/{id}", "search"),
    Route("PUT", "/api/saved-searches/{id}/subscription", "search"),
    # listening rules: everyone who searches sees them, "listening" changes them
    Route("GET", "/listening", "search"),
    Route("POST", "/listening/{action}", "listening"),
    Route("GET", "/api/listening/rules", "search"),
    Route("POST", "/api/listening/rules", "listening"),
    Route("PUT", "/api/listening/rules/{id}", "listening"),
    Route("DELETE", "/api/listening/rules/{id}", "listening"),
    Route("GET", "/api/listening/share", "search"),
    Route("GET", "/inbox", "read"),
    Route("GET", "/conversations/{id}", "read"),
    Route("GET", "/customers/{id}", "read"),
    Route("GET", "/attachments/{message}/{index}", "read"),
    Route("GET", "/api/conversations", "read"),
    Route("GET", "/api/conversations/{id}", "read"),
    Route("GET", "/api/customers/{id}", "read"),
    Route("GET", "/api/events", "read"),
    Route("GET", "/api/presence", "read"),  # who views or types which conversation
    Route("GET", "/api/conversations/{id}/presence", "read"),
    Route("POST", "/api/conversations/{id}/presence", "read"),  # a viewer's heartbeat
    Route("POST", "/conversations/{id}/{action}", "work"),
    Route("POST", "/customers/{id}/merge", "work"),
    Route("POST", "/customers/{id}/merges/{merge}/undo", "work"),
    Route("POST", "/api/conversations/{id}/assign", "work"),
    Route("POST", "/api/conversations/{id}/status", "work"),
    Route("POST", "/api/conversations/{id}/notes", "work"),
    Route("POST", "/api/conversations/{id}/reply", "work"),
    Route("POST", "/api/conversations/{id}/tags", "work"),
    Route("POST", "/api/conversations/{id}/priority", "work"),
    Route("POST", "/api/conversations/bulk", "work"),
    Route("POST", "/api/conversations/{id}/snooze", "work"),
    Route("POST", "/api/conversations/{id}/promote", "work"),  # a listening hit into care
    Route("POST", "/api/conversations/{id}/messages/{message}/sentiment", "work"),
    Route("POST", "/conversations/{id}/merges/{merge}/undo", "work"),
    Route("POST", "/api/conversations/{id}/merge", "work"),
    Route("POST", "/api/conversations/{id}/split", "work"),
    Route("POST", "/api/conversations/{id}/merges/{merge}/undo", "work"),
    Route("POST", "/api/customers/{id}/merge", "work"),
    Route("POST", "/api/customers/{id}/merges/{merge}/undo", "work"),
    Route("GET", "/api/users", "work"),
    # incidents: agents link and send updates, managers and admins create and resolve
    Route("GET", "/incidents", "read"),
    Route("GET", "/incidents/{id}", "read"),
    Route("POST", "/incidents", "incidents"),
    Route("POST", "/incidents/{id}/resolve", "incidents"),
    Route("POST", "/incidents/{id}/{action}", "work"),
    Route("GET", "/api/incidents", "read"),
    Route("POST", "/api/incidents", "incidents"),
    Route("GET", "/api/incidents/{id}", "read"),
    Route("POST", "/api/incidents/{id}/conversations", "work"),
    Route("DELETE", "/api/incidents/{id}/conversations/{conversation}", "work"),
    Route("POST", "/api/incidents/{id}/updates", "work"),
    Route("GET", "/api/incidents/{id}/updates/{update}", "read"),
    Route("POST", "/api/incidents/{id}/resolve", "incidents"),
    Route("GET", "/api/conversations/{id}/incident", "read"),
    Route("GET", "/notifications", "signed_in"),  # own mentions, assignments, spikes
    Route("POST", "/notifications/read", "signed_in"),
    Route("GET", "/api/notifications", "signed_in"),
    Route("POST", "/api/notifications/read", "signed_in"),
    Route("GET", "/api/canned", "read"),  # the team's canned replies, as written
    Route("GET", "/api/conversations/{id}/canned", "read"),  # filled in for it
    Route("POST", "/api/canned", "canned"),
    Route("PUT", "/api/canned/{id}", "canned"),
    Route("DELETE", "/api/canned/{id}", "canned"),
    Route("GET", "/admin/acknowledgements", "acks"),
    Route("POST", "/admin/acknowledgements/{action}", "acks"),
    Route("GET", "/api/ack-templates", "acks"),
    Route("PUT", "/api/ack-templates/{kind}/{channel}/{lang}", "acks"),
    Route("DELETE", "/api/ack-templates/{kind}/{channel}/{lang}", "acks"),
    Route("GET", "/admin/canned", "canned"),
    Route("POST", "/admin/canned/{action}", "canned"),
    Route("GET", "/reports", "report"),
    Route("GET", "/reports/sla.svg", "report"),
    Route("GET", "/reports/backlog.svg", "report"),
    Route("GET", "/reports/conversations", "report"),
    Route("GET", "/api/reports/conversations.csv", "report"),
    Route("GET", "/reports/messages", "report"),
    Route("GET", "/api/reports/messages.csv", "report"),
    Route("GET", "/api/reports/sla", "report"),
    Route("GET", "/api/reports/sla.csv", "report"),
    Route("GET", "/api/reports/heatmap", "report"),
    Route("GET", "/api/reports/heatmap.csv", "report"),
    Route("GET", "/api/reports/fcr", "report"),
    Route("GET", "/api/reports/fcr.csv", "report"),
    Route("GET", "/api/reports/journeys", "report"),
    Route("GET", "/api/reports/journeys.csv", "report"),
    Route("GET", "/api/reports/csat", "report"),
    Route("GET", "/api/reports/csat.csv", "report"),
    Route("GET", "/api/reports/backlog", "report"),
    Route("GET", "/api/reports/backlog.csv", "report"),
    Route("GET", "/api/reports/due", "report"),
    Route("GET", "/api/reports/due.csv", "report"),
    Route("GET", "/api/reports/told", "report"),
    Route("GET", "/api/reports/told.csv", "report"),
    Route("GET", "/api/connectors", "manage"),
    Route("GET", "/api/dead-letters", "admin"),
    Route("GET", "/admin/users", "admin"),
    Route("POST", "/admin/users/{action}", "admin"),
    Route("GET", "/admin/connectors", "admin"),
)

_BY_ROUTE = {(r.method, r.path): r.permission for r in ROUTES}

# Where each role starts after signing in: the first page it may open.
START_PAGES = ("/inbox", "/voc", "/search")


def allowed(user: User | None, permission: str) -> bool:
    """May this user (None: anonymous) do what `permission` covers?"""
    if permission == PUBLIC:
        return True
    return user is not None and permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def route_permission(method: str, path: str) -> str | None:
    """The permission a route needs (HEAD as GET); None for a route missing from ROUTES."""
    return _BY_ROUTE.get(("GET" if method == "HEAD" else method, path))


def start_page(user: User | None) -> str:
    """Where a role starts: the inbox for the care team, the voice of the customer for
    marketing; the sign-in page for nobody."""
    if user is None:
        return "/login"
    for path in START_PAGES:
        if allowed(user, _BY_ROUTE[("GET", path)]):
            return path
    return "/login"


def sees_care(user: User) -> bool:
    """Internal notes and agent replies are for the care team (who may read conversations);
    everyone else searches inbound customer messages only."""
    return allowed(user, "read")


def sees_contacts(user: User, marketing_contacts: bool) -> bool:
    """Customer email addresses and phone numbers: the care team, or everyone who may search
    when an admin allows it (setting privacy.marketing_contacts)."""
    return sees_care(user) or marketing_contacts


def markdown_table() -> str:
    """The README's roles table: one row per permission, its routes, and who has it."""
    roles = list(Role)
    lines = ["| Permission | Pages and API | " + " | ".join(roles) + " |",
             "|---|---|" + ":-:|" * len(roles)]
    for permission, help_text in PERMISSION_HELP.items():
        paths: list[str] = []
        for r in ROUTES:
            if r.permission == permission:
                shown = f"`{r.path}`" if r.method == "GET" else f"`{r.method} {r.path}`"
                if shown not in paths:
                    paths.append(shown)
        marks = ["✓" if permission == PUBLIC or permission in ROLE_PERMISSIONS[role] else ""
                 for role in roles]
        lines.append(f"| `{permission}`: {help_text} | {', '.join(paths)} | "
                     + " | ".join(marks) + " |")
    return "\n".join(lines)
