"""The state rules (SPEC section 6): one pure function, `decide`, says whether an event is allowed
against the current state of its dataset and what it changes.

The live write path (service.py) and the replay path (verify) both call `decide`, so they
cannot drift apart. `decide` reads the state only through the small `StateView` protocol and
returns a list of changes; each store (SQL in storage/, in-memory in domain/memory.py) applies
those changes in its own way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from . import events as ev
from . import validation
from .errors import Conflict, Forbidden, Invalid, NotFound

OBJECT = "object"
SCHEMA = "schema"
ANNOTATION = "annotation"


def with_article(noun: str, capital: bool = False) -> str:
    """`noun` after "a" or "an", for messages that name a kind or an event type: "an object",
    "a schema", "An OwnerAddEvent". By the first letter (every noun a message names here
    sounds as it is spelt)."""
    article = "an" if noun[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    return f"{article.capitalize() if capital else article} {noun}"


# --- records the rules read -----------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One uuid: an object, a schema or an annotation, with the number of versions it has."""

    uuid: str
    kind: str
    name: str | None  # schemas only: the name they are looked up by
    created_seq: int  # position of the event that created it: the order of every list
    versions: int


@dataclass(frozen=True)
class Version:
    """One version of an item and its four status flags (SPEC section 6)."""

    uuid: str
    version: int
    kind: str
    name: str | None
    format: str | None
    size: int
    hash: str
    schema_uuid: str | None = None
    schema_version: int | None = None
    create_pending: bool = True  # its create or update event awaits review
    create_rejected: bool = False  # ... and was rejected
    delete_pending: bool = False  # a deletion of it awaits review
    delete_accepted: bool = False  # it was deleted (schemas: deprecated)
    # Where in the log (event seq) the flags changed, so that a status at any earlier point is
    # one condition on the row (reads "as of" a point: domain/points.py):
    added_seq: int = 0  # the create or update event that made this version
    reviewed_seq: int | None = None  # the review that accepted or rejected that event
    deleted_seq: int | None = None  # the review that accepted its deletion
    delete_requested_seq: int | None = None  # its first delete event (accepted or not)

    @property
    def live(self) -> bool:
        """Neither rejected nor deleted: it may be referenced and it holds its content."""
        return not self.create_rejected and not self.delete_accepted

    def status_words(self) -> set[str]:
        words = set()
        if not (self.create_pending or self.create_rejected or self.delete_accepted):
            words.add("accepted")
        if self.create_pending or self.delete_pending:
            words.add("pending")
        if self.delete_accepted:
            words.add("deleted")
        if self.create_rejected:
            words.add("rejected")
        return words


@dataclass(frozen=True)
class EventInfo:
    """What the rules need to know about an event already in the log."""

    seq: int  # its position in the dataset's log: 1, 2, 3...
    uuid: str
    type: str
    review: str | None  # PENDING / ACCEPTED / REJECTED for content events, None otherwise
    target_uuid: str | None  # the item version the event touched
    target_version: int | None
    reviewed_seq: int | None = None  # content events: the seq of the review that decided it


@dataclass(frozen=True)
class Owner:
    """An owner of the dataset."""

    username: str
    rank: int  # the seq of the OwnerAddEvent that made them an owner: lower ranks higher


@dataclass(frozen=True)
class Member:
    """A member of the dataset and their role (events.ROLES). Owners are kept apart (Owner)."""

    username: str
    role: str


@dataclass(frozen=True)
class Settings:
    """A dataset's settings. The defaults are a dataset's before any DatasetSettingsEvent:
    every user of the server may read it and propose changes, as in the seed's API."""

    visibility: str = ev.INTERNAL
    require_other_reviewer: bool = False


@dataclass(frozen=True)
class Link:
    """An annotation's link to one object version it is attached to."""

    annotation_uuid: str
    object_uuid: str
    object_version: int
    position: int  # its place in the annotation's object_identifiers


class StateView(Protocol):
    """Read access to one dataset's derived state, as the rules need it."""

    def owners(self) -> list[str]:
        """Current owners, highest rank (earliest added) first."""

    def item(self, item_uuid: str) -> Item | None: ...

    def version(self, item_uuid: str, version: int) -> Version | None: ...

    def versions_of(self, keys: tuple[tuple[str, int], ...]) -> dict[tuple[str, int], Version]:
        """The versions of these (uuid, version) pairs that exist, in one lookup."""

    def schema_named(self, name: str) -> Item | None:
        """The newest schema item with that name (the one that holds the name, if any does)."""

    def has_live_version(self, item_uuid: str) -> bool: ...

    def live_object_with_hash(self, digest: str) -> tuple[str, int] | None:
        """An object version (not a schema) with these bytes that is neither rejected nor
        deleted."""

    def event(self, event_uuid: str) -> EventInfo | None: ...

    def event_author(self, event_uuid: str) -> str | None:
        """Who appended that event (for the four-eyes rule), or None if it is not in the log."""

    def role_of(self, user: str) -> str | None:
        """The user's role as a member of the dataset, or None (owners have no role)."""

    def settings(self) -> Settings: ...


# --- changes the rules return ---------------------------------------------------------------


@dataclass(frozen=True)
class OwnerAdded:
    user: str
    rank: int  # the seq of the adding event: lower ranks higher


@dataclass(frozen=True)
class OwnerRemoved:
    user: str


@dataclass(frozen=True)
class MemberSet:
    user: str
    role: str


@dataclass(frozen=True)
class MemberRemoved:
    user: str


@dataclass(frozen=True)
class SettingsChanged:
    settings: Settings


@dataclass(frozen=True)
class ItemSaved:
    """A new item, or an existing one with its version count raised."""

    item: Item


@dataclass(frozen=True)
class VersionAdded:
    version: Version


@dataclass(frozen=True)
class LinksAdded:
    annotation_uuid: str
    objects: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class FlagsChanged:
    version: Version  # the version with its new flags


@dataclass(frozen=True)
class ReviewRecorded:
    event_uuid: str
    review: str
    seq: int  # the review event's position


@dataclass(frozen=True)
class EventRecorded:
    info: EventInfo
    author: str = ""  # who appended it (the SQL store keeps it in the event's stored body)


def links_of(annotation_uuid: str, objects: tuple[tuple[str, int], ...]) -> list[Link]:
    """The Link records of LinksAdded: one per object version, in the order listed."""
    return [Link(annotation_uuid, object_uuid, object_version, position)
            for position, (object_uuid, object_version) in enumerate(objects)]


Change = (
    OwnerAdded | OwnerRemoved | MemberSet | MemberRemoved | SettingsChanged | ItemSaved
    | VersionAdded | LinksAdded | FlagsChanged | ReviewRecorded | EventRecorded
)


# --- the rules ------------------------------------------------------------------------------


def decide(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    """Check `event` (the `seq`-th of its dataset) against `state`; return what it changes.

    Raises a typed GonkError when the event is not allowed: Invalid when it is malformed (its
    shape is checked first, by events.check_shape, so no rule ever meets a missing field).
    Never mutates anything. Any other exception is a bug and propagates as it is.
    """
    event_type = ev.check_shape(event)
    if event_type in ev.CONTENT_TYPES:
        _require_proposer(state, event["author"])
    return _HANDLERS[event_type](state, event, seq)


# --- who may do what (README, "Members, roles and visibility") ------------------------------


def access_of(state: StateView, user: str) -> str | None:
    """What `user` may do in the dataset: "owner", a role (events.ROLES), or None for nothing
    at all. A member's role is theirs whatever the visibility (an internal dataset's viewer
    only reads); everyone else is an annotator of an internal dataset, and nothing of a
    private one."""
    if user in state.owners():
        return "owner"
    role = state.role_of(user)
    if role is not None:
        return role
    return ev.ANNOTATOR if state.settings().visibility == ev.INTERNAL else None


def role_words(access: str | None, user: str) -> str:
    if access is None:
        return f"{user} is not a member of this private dataset"
    return f"{user} is {with_article(access)}"


def _require_proposer(state: StateView, author: str) -> None:
    access = access_of(state, author)
    if access not in ("owner", ev.ANNOTATOR, ev.REVIEWER):
        raise Forbidden("Proposing changes takes the annotator role (or reviewer, or owner); "
                        f"{role_words(access, author)}.")


def _require_reviewer(state: StateView, author: str) -> None:
    access = access_of(state, author)
    if access not in ("owner", ev.REVIEWER):
        raise Forbidden("Accepting and rejecting changes takes the reviewer role (or owner); "
                        f"{role_words(access, author)}.")


def _require_owner(state: StateView, author: str, doing: str) -> list[str]:
    owners = state.owners()
    if author not in owners:
        raise Forbidden(f"Only an owner of this dataset may {doing}; {author} is not an owner.")
    return owners


def _owner_add(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    owner, author = event["owner"], event["author"]
    validation.username(owner)
    owners = state.owners()
    if owners:
        _require_owner(state, author, "add owners")
    elif owner != author:
        raise Forbidden("The first owner of a dataset is the user who created it.")
    if owner in owners:
        raise Conflict(f"{owner} is already an owner of this dataset.")
    return [OwnerAdded(owner, seq), _recorded(event, seq)]


def _owner_remove(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    owner, author = event["owner"], event["author"]
    owners = _require_owner(state, author, "remove owners")
    if owner not in owners:
        raise NotFound(f"{owner} is not an owner of this dataset.")
    if owners.index(author) > owners.index(owner):
        raise Forbidden(
            f"{author} may not remove {owner}: owners added earlier rank higher, and an owner "
            "may only remove owners of equal or lower rank."
        )
    if len(owners) == 1:
        raise Conflict("The last owner of a dataset cannot be removed; add another owner first.")
    return [OwnerRemoved(owner), _recorded(event, seq)]


def _object_write(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    meta = event["object"]
    item_uuid = validation.parse_uuid(meta["uuid"])
    version = validation.parse_version(meta["version"])
    name, fmt, size, digest = meta["name"], meta["format"], int(meta["size"]), meta["hash"]
    is_schema = isinstance(name, str) and name.startswith(validation.SCHEMA_PREFIX)
    kind = SCHEMA if is_schema else OBJECT
    if is_schema:
        validation.schema_name(name)
    else:
        validation.object_name(name)
    validation.mimetype(fmt)
    changes: list[Change] = []
    creating = event["type"] == ev.OBJECT_CREATE
    if creating:
        if version != 0 or state.item(item_uuid) is not None:
            raise Conflict(f"{item_uuid} already exists; a create event starts at version 0.")
        if is_schema:
            holder = state.schema_named(name)
            if holder is not None and state.has_live_version(holder.uuid):
                raise Conflict(
                    f"A schema named {name} already exists in this dataset.",
                    existing={"uuid": holder.uuid, "versions": holder.versions},
                )
        changes.append(ItemSaved(Item(item_uuid, kind, name if is_schema else None, seq, 1)))
    else:
        item = state.item(item_uuid)
        noun = "schema" if is_schema else "object"
        if item is None or item.kind != kind:
            raise NotFound(f"No {noun} {item_uuid} in this dataset.")
        if version != item.versions:
            raise Conflict(f"The next version of {item_uuid} is {item.versions}, not {version}.")
        if is_schema:
            holder = state.schema_named(name)
            if item.name != name or holder is None or holder.uuid != item_uuid:
                raise Conflict(f"Schema {item_uuid} is not the schema named {name}.")
        latest = _latest_live(state, item)
        if latest is not None and latest.hash == digest:
            raise Conflict(
                f"The {noun}'s content is unchanged: version {latest.version} already holds "
                "these bytes. An update must change them.",
                existing={"uuid": item_uuid, "version": latest.version},
            )
        changes.append(ItemSaved(replace(item, versions=item.versions + 1)))
    if not is_schema:
        duplicate = state.live_object_with_hash(digest)
        if duplicate is not None:
            raise Conflict(
                "An object with the same bytes already exists in this dataset.",
                existing={"uuid": duplicate[0], "version": duplicate[1]},
            )
    changes.append(VersionAdded(Version(item_uuid, version, kind, name, fmt, size, digest,
                                        added_seq=seq)))
    changes.append(_recorded(event, seq, (item_uuid, version), ev.PENDING))
    return changes


def _latest_live(state: StateView, item: Item) -> Version | None:
    for number in range(item.versions - 1, -1, -1):
        candidate = state.version(item.uuid, number)
        if candidate is not None and candidate.live:
            return candidate
    return None


def _delete(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    is_object = event["type"] == ev.OBJECT_DELETE
    ident = event["object_identifier" if is_object else "annotation_identifier"]
    item_uuid = validation.parse_uuid(ident["uuid"])
    number = validation.parse_version(ident["version"])
    target = state.version(item_uuid, number)
    kinds = (OBJECT, SCHEMA) if is_object else (ANNOTATION,)
    noun = "object" if is_object else "annotation"
    if target is None or target.kind not in kinds:
        raise NotFound(f"No {noun} version {item_uuid}/{number} in this dataset.")
    noun = "schema" if target.kind == SCHEMA else noun
    if target.create_rejected:
        raise Conflict(f"This {noun} version was rejected; there is nothing to delete.")
    if target.delete_accepted:
        raise Conflict(f"This {noun} version is already deleted.")
    if target.delete_pending:
        raise Conflict(f"A deletion of this {noun} version is already pending review.")
    return [
        FlagsChanged(replace(target, delete_pending=True, delete_requested_seq=(
            seq if target.delete_requested_seq is None else target.delete_requested_seq))),
        _recorded(event, seq, (item_uuid, number), ev.PENDING),
    ]


def check_schema_ref(state: StateView, ref: dict[str, Any]) -> Version:
    schema_uuid = validation.parse_uuid(ref["uuid"], "schema uuid")
    number = validation.parse_version(ref["version"], "schema version")
    schema = state.version(schema_uuid, number)
    if schema is None or schema.kind != SCHEMA:
        raise NotFound(f"No schema version {schema_uuid}/{number} in this dataset.")
    if schema.create_rejected:
        raise Conflict(f"Schema {schema.name} version {number} was rejected and cannot be used.")
    if schema.delete_accepted:
        raise Conflict(f"Schema {schema.name} version {number} is deprecated and cannot be used.")
    return schema


def parse_object_identifiers(identifiers: Any, limit: int | None = None
                             ) -> tuple[tuple[str, int], ...]:
    """The object versions an annotation is attached to, by shape only: a non-empty list of
    distinct {uuid, version}, at most `limit` of them (new requests have a limit; events already
    in a log are replayed without one). Linear in the list; reads no state."""
    if not isinstance(identifiers, list) or not identifiers:
        raise Invalid("'object_identifiers' must be a non-empty list of {uuid, version}.")
    if limit is not None and len(identifiers) > limit:
        raise Invalid(f"An annotation may be attached to at most {limit} object versions; "
                      f"this one lists {len(identifiers)}.")
    seen: dict[tuple[str, int], None] = {}  # a dict keeps the order they were listed in
    for ident in identifiers:
        if not isinstance(ident, dict) or set(ident) != {"uuid", "version"}:
            raise Invalid("Each object identifier must be an object {\"uuid\", \"version\"}.")
        key = (validation.parse_uuid(ident["uuid"], "object uuid"),
               validation.parse_version(ident["version"], "object version"))
        if key in seen:
            raise Invalid(f"Object {key[0]} version {key[1]} is listed twice.")
        seen[key] = None
    return tuple(seen)


def check_object_identifiers(state: StateView, identifiers: Any) -> tuple[tuple[str, int], ...]:
    """The objects an annotation is attached to: a non-empty list of distinct, live object
    versions. The state is read once for all of them (StateView.versions_of)."""
    keys = parse_object_identifiers(identifiers)
    found = state.versions_of(keys)
    for item_uuid, number in keys:
        target = found.get((item_uuid, number))
        if target is None:
            raise NotFound(f"No object version {item_uuid}/{number} in this dataset.")
        if target.kind != OBJECT:
            raise Invalid(f"{item_uuid} is {with_article(target.kind)}, not an object; "
                          "annotations attach to objects.")
        if target.create_rejected:
            raise Conflict(f"Object {item_uuid} version {number} was rejected.")
        if target.delete_accepted:
            raise Conflict(f"Object {item_uuid} version {number} is deleted.")
    return keys


def _annotation_write(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    meta = event["annotation"]
    item_uuid = validation.parse_uuid(meta["uuid"])
    version = validation.parse_version(meta["version"])
    size, digest = int(meta["size"]), meta["hash"]
    schema = check_schema_ref(state, meta["schema"])
    changes: list[Change] = []
    if event["type"] == ev.ANNOTATION_CREATE:
        if version != 0 or state.item(item_uuid) is not None:
            raise Conflict(f"{item_uuid} already exists; a create event starts at version 0.")
        objects = check_object_identifiers(state, event["object_identifiers"])
        changes.append(ItemSaved(Item(item_uuid, ANNOTATION, None, seq, 1)))
        changes.append(LinksAdded(item_uuid, objects))
    else:
        item = state.item(item_uuid)
        if item is None or item.kind != ANNOTATION:
            raise NotFound(f"No annotation {item_uuid} in this dataset.")
        if version != item.versions:
            raise Conflict(f"The next version of {item_uuid} is {item.versions}, not {version}.")
        latest = _latest_live(state, item)
        if (latest is not None and latest.hash == digest
                and (latest.schema_uuid, latest.schema_version) == (schema.uuid, schema.version)):
            raise Conflict(
                f"The annotation is unchanged: version {latest.version} already holds these "
                "bytes with this schema version. An update must change them.",
                existing={"uuid": item_uuid, "version": latest.version},
            )
        changes.append(ItemSaved(replace(item, versions=item.versions + 1)))
    changes.append(VersionAdded(Version(
        item_uuid, version, ANNOTATION, None, None, size, digest, schema.uuid, schema.version,
        added_seq=seq)))
    changes.append(_recorded(event, seq, (item_uuid, version), ev.PENDING))
    return changes


def _review(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    accept = event["type"] == ev.REVIEW_ACCEPT
    _require_reviewer(state, event["author"])
    target_uuid = validation.parse_uuid(event["event_uuid"], "event uuid")
    target = state.event(target_uuid)
    if target is None:
        raise NotFound(f"No event {target_uuid} in this dataset.")
    if (accept and state.settings().require_other_reviewer
            and state.event_author(target_uuid) == event["author"]):
        raise Forbidden("This dataset requires another reviewer: nobody accepts a change they "
                        "proposed (rejecting it stays allowed).")
    if target.type not in ev.CONTENT_TYPES:
        raise Invalid(f"{with_article(target.type, capital=True)} cannot be reviewed; only "
                      "creates, updates and deletes of schemas, objects and annotations can.")
    if target.review != ev.PENDING:
        raise Conflict(f"Event {target_uuid} was already reviewed: {target.review}.")
    assert target.target_uuid is not None and target.target_version is not None
    version = state.version(target.target_uuid, target.target_version)
    assert version is not None
    if target.type in ev.CREATE_TYPES:
        if accept:
            if version.kind == ANNOTATION:
                check_schema_ref(state, {"uuid": version.schema_uuid,
                                          "version": version.schema_version})
            flags = replace(version, create_pending=False, reviewed_seq=seq)
        else:
            flags = replace(version, create_pending=False, create_rejected=True,
                            reviewed_seq=seq)
    elif accept:
        if version.create_rejected:
            raise Conflict("This version's creation was rejected, so its deletion cannot be "
                           "accepted; reject the deletion instead.")
        if version.create_pending:
            raise Conflict("This version's creation is still pending; review it before "
                           "accepting its deletion.")
        flags = replace(version, delete_pending=False, delete_accepted=True, deleted_seq=seq)
    else:
        flags = replace(version, delete_pending=False)
    return [
        ReviewRecorded(target_uuid, ev.ACCEPTED if accept else ev.REJECTED, seq),
        FlagsChanged(flags),
        _recorded(event, seq, (version.uuid, version.version)),
    ]


def _recorded(
    event: dict[str, Any], seq: int, target: tuple[str, int] | None = None,
    review: str | None = None,
) -> EventRecorded:
    return EventRecorded(EventInfo(seq, event["uuid"], event["type"], review,
                                   target[0] if target else None, target[1] if target else None),
                         event["author"] if isinstance(event["author"], str) else "")


def _member_set(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    member, role, author = event["member"], event["role"], event["author"]
    _require_owner(state, author, "set members' roles")
    validation.username(member)
    if role not in ev.ROLES:
        raise Invalid(f"A role is one of {', '.join(ev.ROLES)}; not {role!r}.")
    if member in state.owners():
        raise Conflict(f"{member} is an owner of this dataset, which allows more than any role.")
    if state.role_of(member) == role:
        raise Conflict(f"{member} is already {with_article(role)} of this dataset.")
    return [MemberSet(member, role), _recorded(event, seq)]


def _member_remove(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    member, author = event["member"], event["author"]
    _require_owner(state, author, "remove members")
    if not isinstance(member, str) or state.role_of(member) is None:
        raise NotFound(f"{member} is not a member of this dataset.")
    return [MemberRemoved(member), _recorded(event, seq)]


def _settings(state: StateView, event: dict[str, Any], seq: int) -> list[Change]:
    _require_owner(state, event["author"], "change the dataset's settings")
    visibility, other = event["visibility"], event["require_other_reviewer"]
    if visibility not in ev.VISIBILITIES:
        raise Invalid(f"'visibility' is one of {', '.join(ev.VISIBILITIES)}; not "
                      f"{visibility!r}.")
    if not isinstance(other, bool):
        raise Invalid("'require_other_reviewer' must be true or false.")
    new = Settings(visibility, other)
    if new == state.settings():
        raise Conflict("The dataset already has these settings.")
    return [SettingsChanged(new), _recorded(event, seq)]


_HANDLERS = {
    ev.OWNER_ADD: _owner_add,
    ev.OWNER_REMOVE: _owner_remove,
    ev.OBJECT_CREATE: _object_write,
    ev.OBJECT_UPDATE: _object_write,
    ev.OBJECT_DELETE: _delete,
    ev.ANNOTATION_CREATE: _annotation_write,
    ev.ANNOTATION_UPDATE: _annotation_write,
    ev.ANNOTATION_DELETE: _delete,
    ev.REVIEW_ACCEPT: _review,
    ev.REVIEW_REJECT: _review,
    ev.MEMBER_SET: _member_set,
    ev.MEMBER_REMOVE: _member_remove,
    ev.SETTINGS: _settings,
}
