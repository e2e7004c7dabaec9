"""Request and response bodies at the HTTP boundary (pydantic v2). Unknown fields are refused,
so a typo in a client's field name is a 422, not a silently ignored option."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from service.pages import TOKEN_PATTERN

# User, item and event ids: ASCII only, so look-alike Unicode (Arabic digits, zero-width
# joiners) cannot name a second user that reads like the first.
ID_PATTERN, ID_MAX = r"^[A-Za-z0-9_.:@/-]+$", 128
MAX_PAGE_SIZE = 50  # the served beam width: a page is at most one beam's items
Id = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)


def _a_json_number(value: object) -> object:
    """A JSON number (26.0 is an integer), not a string or a boolean that happens to convert:
    pydantic's lax mode would read "10" and true as numbers."""
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number")
    return value


def _a_json_string(value: object) -> object:
    """A date-time as the schema says, an ISO 8601 string: pydantic's lax mode would read the
    number 0.25 as a unix time."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


# Numbers and date-times as JSON writes them; the bounds stay on each field.
JsonInt = Annotated[int, BeforeValidator(_a_json_number)]
JsonFloat = Annotated[float, BeforeValidator(_a_json_number)]
JsonDateTime = Annotated[datetime, BeforeValidator(_a_json_string)]
# An event's optional amount. Bounds inside a type in a union must come before the validator:
# after it, pydantic writes them into the OpenAPI schema as unknown keywords (`le`), not bounds.
Amount = Annotated[float, Field(ge=-1e6, le=1e6), BeforeValidator(_a_json_number)]


class Strict(BaseModel):
    # No NaN or Infinity: JSON has neither, though Python's parser reads them.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class DecodeMode(StrEnum):
    beam = "beam"  # the page is the top page_size of one constrained beam search
    slate = "slate"  # the page is generated whole: a plan of its coarse codes, then its items


class RecommendationRequest(Strict):
    user_id: str = Id
    page_size: JsonInt = Field(10, ge=1, le=MAX_PAGE_SIZE)
    page_token: str | None = Field(None, pattern=TOKEN_PATTERN)
    mode: DecodeMode = DecodeMode.beam


class RecommendedItem(BaseModel):
    item_id: str
    score: float | None  # the model's score (SID log-probability + dense term); None on fallback
    rank: int  # position in the whole chain, 1-based
    title: str | None = None


class RecommendationPage(BaseModel):
    items: list[RecommendedItem]
    next_page_token: str | None  # None when the chain ends (max pages, or no more items)
    model_version: str
    page: int
    fallback: bool = False  # served from popularity, not the decoder


class HistoryItem(BaseModel):
    item_id: str
    title: str | None = None


class UserHistory(BaseModel):
    user_id: str
    items: list[HistoryItem]  # newest first


class PageConfig(BaseModel):
    """What the page at `/` needs to know before its first request."""

    model_version: str  # the catalogue's version as the gateway last read it
    example_users: list[str]
    page_size: int
    reads_need_key: bool
    writes_need_key: bool


class _EventFields(Strict):
    event_id: str = Id
    user_id: str = Id
    item_id: str = Id
    ts: JsonDateTime | None = None  # when it happened; the gateway's clock when absent


class Interaction(_EventFields):
    type: Literal["click", "purchase"]
    value: Amount | None = None  # optional: an amount, a dwell time


class Rating(_EventFields):
    type: Literal["rating"]
    value: JsonFloat = Field(ge=1, le=5)  # the stars, required


# One body, told apart by `type`; the OpenAPI schema says which fields each type needs.
Event = Annotated[Interaction | Rating, Field(discriminator="type")]


class EventAck(BaseModel):
    event_id: str
    duplicate: bool  # already recorded under this event_id; nothing was written again
    in_history: bool  # its item entered the history the next page is decoded from


class Problem(BaseModel):
    detail: str
