"""The demo's incident: the complaint wave's outage (inbox.app.demo.wave), created by the
manager with the wave's care conversations linked, so /incidents shows affected customers on
two channels. No update is sent: the newcomer sends one (the demo's senders record it)."""

from __future__ import annotations

from inbox import query
from inbox.app.demo.wave import WAVE_TOPIC, WAVE_TOWN
from inbox.model import Status, User
from inbox.usecases.incidents import Incidents

TITLE = f"Broadband {WAVE_TOPIC} in {WAVE_TOWN}"
DESCRIPTION = (f"A fibre cable cut near {WAVE_TOWN} left the area without broadband since "
               "7am. Engineers are on site.")
MAX_WAVE = 500  # messages of the wave read


async def plant(incidents: Incidents, manager: User, agent: User) -> str | None:
    """The incident's id; None when the demo has no wave (too short)."""
    store = incidents.store
    found = await store.search(query.parse(f"{WAVE_TOPIC} {WAVE_TOWN}"), None, MAX_WAVE)
    convs = await store.conversations_by_ids(sorted({m.conversation_id for m in found.messages}))
    care = sorted((c for c in convs.values()
                   if c.status not in (Status.MERGED, Status.LISTENING)),
                  key=lambda c: c.created_at)
    if not care:
        return None
    doc = await incidents.create(manager, TITLE, DESCRIPTION)
    for conv in care:
        await incidents.link(conv.id, agent, doc["id"])
    return doc["id"]
