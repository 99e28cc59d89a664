"""What the simulator plans: its leads, and an event's document at a time, before ids are
drawn (shared by the persona planners and the companies the leads work at)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Doc = dict[str, Any]
Planned = tuple[float, Doc]  # (occurred_at, event document without ids and time)

Persona = Literal["buyer", "tyre_kicker", "student", "bot", "scanned"]


@dataclass(slots=True)
class Lead:
    """A simulated lead's identity and profile (what its forms would say)."""

    lead_id: str
    persona: Persona
    arrived: float  # first appearance; nothing happens before
    first_name: str
    last_name: str
    email: str
    country: str
    company: str | None = None
    job_title: str | None = None
    company_size: int | None = None
    industry: str | None = None
    gateway: bool = False
    erased: bool = False
    anonymous_id: str = ""  # the visitor cookie id of the lead's browser
    browser: str = ""  # its user agent
    job_seeker: bool = False
    linked_at: float | None = None  # its first form: the cookie is linked to the lead (milestones)
    account_id: str | None = None  # its company's id in the vendor's CRM (lead.associated)
    # A colleague in a warm company (companies.py): joins the buying from this time on.
    committee_from: float | None = None

    @property
    def human(self) -> bool:
        return self.persona != "bot"
