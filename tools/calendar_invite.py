"""Calendar invitations (iCalendar, RFC 5545 / iTIP RFC 5546): what a reader needs to know.

Mail clients send an invitation, an answer or a cancellation as a
``text/calendar`` part; this module reads its first event with ``icalendar``
and gives the facts a summary shows. No Odoo import.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

_logger = logging.getLogger(__name__)

CALENDAR_TYPES = ("text/calendar", "application/ics")
MAX_SIZE = 1024 * 1024
MAX_ATTENDEES = 50
METHODS = ("REQUEST", "REPLY", "CANCEL", "PUBLISH", "COUNTER", "REFRESH", "ADD", "DECLINECOUNTER")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    status: str = ""  # PARTSTAT: ACCEPTED, DECLINED, TENTATIVE, NEEDS-ACTION...

    def label(self):
        """``Name <email>``, or the address alone."""
        if self.name and self.name.lower() != self.email:
            return f"{self.name} <{self.email}>"
        return self.email


@dataclass(frozen=True)
class Invitation:
    """The first event of a calendar part and the iTIP method it comes with."""

    method: str  # REQUEST, REPLY, CANCEL, PUBLISH... ("" when the part names none)
    uid: str
    summary: str
    start: object  # datetime (aware) or date (all day); None when missing
    end: object
    location: str
    organizer: Person | None
    attendees: tuple  # Person
    sequence: int = 0
    cancelled: bool = False  # STATUS:CANCELLED

    @property
    def all_day(self):
        return isinstance(self.start, date) and not isinstance(self.start, datetime)


def _person(prop):
    if prop is None:
        return None
    address = str(prop)
    if address.lower().startswith("mailto:"):
        address = address[7:]
    params = getattr(prop, "params", {})
    return Person(
        name=str(params.get("CN", "")).strip('"'),
        email=address.strip().lower(),
        status=str(params.get("PARTSTAT", "")).upper(),
    )


def _moment(prop):
    value = getattr(prop, "dt", None) if prop is not None else None
    if isinstance(value, datetime) and value.tzinfo is None:
        # Floating time: nothing says where; UTC is the least wrong reading.
        value = value.replace(tzinfo=timezone.utc)
    return value


def parse(data):
    """The :class:`Invitation` in ``data`` (bytes or str), or ``None`` when it holds no event."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not data or len(data) > MAX_SIZE:
        return None
    try:
        calendar = icalendar.Calendar.from_ical(data)
        event = next(iter(calendar.walk("VEVENT")), None)
        if event is None:
            return None
        attendees = event.get("ATTENDEE") or []
        if not isinstance(attendees, list):
            attendees = [attendees]
        method = str(calendar.get("METHOD", "")).upper()
        return Invitation(
            method=method if method in METHODS else "",
            uid=str(event.get("UID", "")),
            summary=str(event.get("SUMMARY", "")).strip(),
            start=_moment(event.get("DTSTART")),
            end=_moment(event.get("DTEND")),
            location=str(event.get("LOCATION", "")).strip(),
            organizer=_person(event.get("ORGANIZER")),
            attendees=tuple(_person(a) for a in attendees[:MAX_ATTENDEES]),
            sequence=int(event.get("SEQUENCE", 0) or 0),
            cancelled=str(event.get("STATUS", "")).upper() == "CANCELLED",
        )
    except Exception as error:  # noqa: BLE001 - a stranger's file: unreadable means no summary
        _logger.info("Calendar part could not be read: %s", error)
        return None


def zone(tz_name):
    """The time zone named ``tz_name``, UTC when unknown."""
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def format_when(invitation, tz_name):
    """When the event takes place, in ``tz_name``: ``2024-12-10 14:00 - 15:00 (Europe/Brussels)``,
    ``2024-12-10`` for a whole day; ``""`` when the event has no start."""
    start, end = invitation.start, invitation.end
    if start is None:
        return ""
    if invitation.all_day:
        last = end if isinstance(end, date) and not isinstance(end, datetime) else None
        # DTEND of a whole-day event is exclusive.
        if last and (last - start).days > 1:
            return f"{start.isoformat()} - {date.fromordinal(last.toordinal() - 1).isoformat()}"
        return start.isoformat()
    tz = zone(tz_name)
    start = start.astimezone(tz)
    text = start.strftime("%Y-%m-%d %H:%M")
    if isinstance(end, datetime):
        end = end.astimezone(tz)
        text += " - " + end.strftime("%H:%M" if end.date() == start.date() else "%Y-%m-%d %H:%M")
    return f"{text} ({getattr(tz, 'key', 'UTC')})"


def replier(invitation):
    """The attendee answering a REPLY (iTIP: a reply names only the answering attendee)."""
    if invitation.method != "REPLY" or not invitation.attendees:
        return None
    return invitation.attendees[0]
