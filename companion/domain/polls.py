"""The polls of one session: creating, opening and closing them, answers and results.

Four kinds: single choice, multiple choice (with a maximum number of choices), a rating
scale (1-5 or 1-10) and a word cloud (one short text per participant, normalised so that
"Trygghet " and "trygghet" count as the same word). Each participant has at most one
answer per poll; answering again replaces it while the poll is open.

Like `questions`, commands check the rules and return a `Draft` without changing
anything; `apply` folds a committed event. Tallies are kept incrementally on `apply`, so
computing a poll's results never walks every answer.
"""

from __future__ import annotations

import heapq
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from companion.domain import events as ev
from companion.domain.errors import DomainError, InvalidState, InvalidText, NotFound

MAX_POLL_TEXT_CHARS = 200
MAX_OPTION_CHARS = 100
MIN_OPTIONS = 2
MAX_OPTIONS = 12
MAX_WORD_CHARS = 40
RATING_SCALES = (5, 10)
MAX_POLLS = 200  # per session: a guard against a runaway client, far above any real use
CLOUD_WORDS = 60  # the most frequent words sent live; the report has all of them


class PollKind(StrEnum):
    """What a poll asks for."""

    SINGLE = "single"
    MULTIPLE = "multiple"
    RATING = "rating"
    WORDS = "words"


class PollStatus(StrEnum):
    """Where a poll is: prepared, taking answers, or closed (it can be reopened)."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


CHOICE_KINDS = frozenset({PollKind.SINGLE, PollKind.MULTIPLE})


class InvalidPoll(DomainError):
    """A poll the moderator tries to create is malformed (kind, text, options, scale)."""

    code = "invalid_poll"


class InvalidAnswer(DomainError):
    """An answer that does not fit the poll; `code` says how."""

    code = "invalid_answer"


# An answer as stored: option ids (choice kinds), a rating, or a normalised word.
Answer = tuple[int, ...] | int | str


@dataclass(slots=True)
class Poll:
    """One poll with its answers and running tallies."""

    id: int
    kind: PollKind
    text: str
    options: tuple[str, ...]
    max_choices: int | None
    scale: int | None
    item_id: str | None
    created_at: float
    status: PollStatus = PollStatus.DRAFT
    hide_results: bool = False
    opened_at: float | None = None  # first opened
    closed_at: float | None = None  # last closed; None while open
    answers: dict[str, Answer] = field(default_factory=dict)
    # option id / rating value / word -> number of participants whose answer includes it
    tally: Counter[Any] = field(default_factory=Counter)

    @property
    def respondents(self) -> int:
        """Number of participants who have answered."""
        return len(self.answers)

    @property
    def is_public(self) -> bool:
        """Whether participants and screens see the poll at all (drafts are the moderator's)."""
        return self.status != PollStatus.DRAFT

    @property
    def results_public(self) -> bool:
        """Whether participants and screens may see the tallies now."""
        return self.is_public and (not self.hide_results or self.status == PollStatus.CLOSED)

    def option_ids(self) -> range:
        """Option ids, 1-based in the order given."""
        return range(1, len(self.options) + 1)

    def words(self, limit: int | None = None) -> list[tuple[str, int]]:
        """Distinct words with their counts, most frequent first, then alphabetically."""
        if self.kind != PollKind.WORDS:
            return []
        order = lambda kv: (-kv[1], kv[0])  # noqa: E731
        if limit is None:
            return sorted(self.tally.items(), key=order)
        # Runs on every answer: picking the top few beats sorting every word.
        return heapq.nsmallest(limit, self.tally.items(), key=order)


def results(poll: Poll, cloud_words: int | None = CLOUD_WORDS) -> dict[str, Any]:
    """A poll's results: counts per option, rating distribution and average, or words.

    Always a fresh dict (it is kept in the replay ring, so it must not change later).
    """
    out: dict[str, Any] = {"respondents": poll.respondents}
    if poll.kind in CHOICE_KINDS:
        out["counts"] = [poll.tally.get(i, 0) for i in poll.option_ids()]
    elif poll.kind == PollKind.RATING:
        scale = poll.scale or 0
        distribution = [poll.tally.get(v, 0) for v in range(1, scale + 1)]
        total = sum(v * n for v, n in zip(range(1, scale + 1), distribution, strict=True))
        out["distribution"] = distribution
        out["average"] = round(total / poll.respondents, 2) if poll.respondents else None
    else:
        out["words"] = [[w, n] for w, n in poll.words(cloud_words)]
    return out


def hidden_results(poll: Poll) -> dict[str, Any]:
    """What participants see of a poll whose results are hidden: only how many answered."""
    return {"respondents": poll.respondents}


# -- cleaning input --------------------------------------------------------------------


def _text(value: object, what: str, limit: int, error: type[DomainError]) -> str:
    if not isinstance(value, str):
        raise error(f"The {what} must be text.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"The {what} contains characters that are not valid text.") from None
    # NFC so that "å" typed on one phone equals "å" typed on another.
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if not value:
        raise error(f"The {what} is empty.")
    if len(value) > limit:
        raise error(f"The {what} is longer than {limit} characters.")
    return value


def normalise_word(value: Any) -> str:
    """A word-cloud answer: trimmed, inner spaces collapsed, lower case, NFC; checked."""
    if not isinstance(value, str):
        raise InvalidAnswer("The answer must be text.", code="invalid_answer")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidText("The answer contains characters that are not valid text.") from None
    word = " ".join(unicodedata.normalize("NFC", value).split()).lower()
    if not word:
        raise InvalidAnswer("The answer is empty.", code="answer_empty")
    if len(word) > MAX_WORD_CHARS:
        raise InvalidAnswer(
            f"The answer is longer than {MAX_WORD_CHARS} characters.", code="answer_too_long"
        )
    return word


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PollBoard:
    """All polls of one session and the rules that govern them."""

    def __init__(self) -> None:
        self.polls: dict[int, Poll] = {}
        self.on_screen: int | None = None
        self._next_id = 1

    # -- queries -----------------------------------------------------------------------
    def get(self, poll_id: Any) -> Poll:
        """The poll with this id, or NotFound."""
        if not _whole(poll_id):
            raise NotFound("No such poll.")
        poll = self.polls.get(poll_id)
        if poll is None:
            raise NotFound(f"No poll {poll_id}.")
        return poll

    def answers_of(self, participant: str) -> dict[int, Any]:
        """This participant's current answers, by poll id, as sent in the protocol."""
        out: dict[int, Any] = {}
        for poll in self.polls.values():
            if participant in poll.answers:
                out[poll.id] = answer_view(poll.answers[participant])
        return out

    # -- commands ----------------------------------------------------------------------
    def create(
        self,
        kind: Any,
        text: Any,
        options: Any = None,
        max_choices: Any = None,
        scale: Any = None,
        item_id: str | None = None,
        hide_results: Any = False,
    ) -> ev.Draft:
        """Prepare a poll (a draft: nobody but moderators sees it until it is opened).

        `item_id` must already be checked against the agenda (None: the whole session).
        """
        if len(self.polls) >= MAX_POLLS:
            raise InvalidPoll(f"A session can have at most {MAX_POLLS} polls.")
        try:
            kind = PollKind(kind)
        except ValueError:
            allowed = ", ".join(k.value for k in PollKind)
            raise InvalidPoll(f"`kind` must be one of {allowed}.") from None
        clean_text = _text(text, "poll question", MAX_POLL_TEXT_CHARS, InvalidPoll)
        if not isinstance(hide_results, bool):
            raise InvalidPoll("`hide_results` must be true or false.")
        clean_options: list[str] = []
        max_n: int | None = None
        scale_n: int | None = None
        if kind in CHOICE_KINDS:
            if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
                raise InvalidPoll(f"Give {MIN_OPTIONS} to {MAX_OPTIONS} options.")
            seen: set[str] = set()
            for option in options:
                clean = _text(option, "option", MAX_OPTION_CHARS, InvalidPoll)
                if clean.casefold() in seen:
                    raise InvalidPoll(f"The option {clean!r} is given twice.")
                seen.add(clean.casefold())
                clean_options.append(clean)
            if kind == PollKind.MULTIPLE:
                max_n = len(clean_options) if max_choices is None else max_choices
                if not _whole(max_n) or not 1 <= max_n <= len(clean_options):
                    raise InvalidPoll(
                        f"`max_choices` must be a whole number from 1 to {len(clean_options)}."
                    )
            elif max_choices not in (None, 1):
                raise InvalidPoll("A single-choice poll takes exactly one choice.")
        else:
            if options not in (None, []):
                raise InvalidPoll(f"A {kind.value} poll has no options.")
            if max_choices is not None:
                raise InvalidPoll(f"A {kind.value} poll has no `max_choices`.")
        if kind == PollKind.RATING:
            scale_n = 5 if scale is None else scale
            if not _whole(scale_n) or scale_n not in RATING_SCALES:
                raise InvalidPoll("`scale` must be 5 or 10.")
        elif scale is not None:
            raise InvalidPoll("Only a rating poll has a `scale`.")
        return ev.Draft(
            ev.POLL_CREATED,
            {
                "id": self._next_id,
                "kind": kind.value,
                "text": clean_text,
                "options": clean_options,
                "max_choices": max_n,
                "scale": scale_n,
                "item_id": item_id,
                "hide_results": hide_results,
            },
        )

    def open(self, poll_id: Any) -> ev.Draft:
        """Open a draft for answers, or reopen a closed poll (its answers are kept)."""
        poll = self.get(poll_id)
        if poll.status == PollStatus.OPEN:
            raise InvalidState(f"Poll {poll.id} is already open.")
        return ev.Draft(ev.POLL_OPENED, {"id": poll.id})

    def close(self, poll_id: Any) -> ev.Draft:
        """Stop taking answers."""
        poll = self.get(poll_id)
        if poll.status != PollStatus.OPEN:
            raise InvalidState(f"Poll {poll.id} is not open.")
        return ev.Draft(ev.POLL_CLOSED, {"id": poll.id})

    def set_hide_results(self, poll_id: Any, hide: Any) -> ev.Draft:
        """Hide the results from participants and screens until the poll closes, or not."""
        poll = self.get(poll_id)
        if not isinstance(hide, bool):
            raise InvalidState("`hide` must be true or false.", code="invalid_value")
        if poll.hide_results == hide:
            raise InvalidState(f"Poll {poll.id} already has that setting.")
        return ev.Draft(ev.POLL_RESULTS_HIDDEN, {"id": poll.id, "hide": hide})

    def show(self, poll_id: Any) -> ev.Draft:
        """Put a poll on the big screen; the previous one leaves it."""
        poll = self.get(poll_id)
        if not poll.is_public:
            raise InvalidState("Open the poll before showing it on the screen.")
        if self.on_screen == poll.id:
            raise InvalidState(f"Poll {poll.id} is already on the screen.")
        return ev.Draft(ev.POLL_SHOWN, {"id": poll.id})

    def unshow(self, poll_id: Any) -> ev.Draft:
        """Take the poll off the big screen."""
        poll = self.get(poll_id)
        if self.on_screen != poll.id:
            raise InvalidState(f"Poll {poll.id} is not on the screen.")
        return ev.Draft(ev.POLL_UNSHOWN, {"id": poll.id})

    def answer(self, poll_id: Any, participant: str, answer: Any) -> ev.Draft:
        """A participant's answer; replaces their earlier answer to the same poll."""
        poll = self.get(poll_id)
        if poll.status == PollStatus.DRAFT:
            raise InvalidState(f"Poll {poll.id} is not open yet.", code="poll_not_open")
        if poll.status == PollStatus.CLOSED:
            raise InvalidState(f"Poll {poll.id} is closed.", code="poll_closed")
        return ev.Draft(
            ev.POLL_ANSWERED,
            {"id": poll.id, "participant": participant, "answer": self._clean(poll, answer)},
        )

    @staticmethod
    def _clean(poll: Poll, answer: Any) -> Any:
        if poll.kind == PollKind.SINGLE:
            if not _whole(answer):
                raise InvalidAnswer("Answer with the id of one option.")
            if answer not in poll.option_ids():
                raise InvalidAnswer(f"There is no option {answer}.", code="unknown_option")
            return answer
        if poll.kind == PollKind.MULTIPLE:
            if not isinstance(answer, list) or not answer or not all(map(_whole, answer)):
                raise InvalidAnswer("Answer with a list of option ids (at least one).")
            if len(set(answer)) != len(answer):
                raise InvalidAnswer("An option is chosen twice.")
            for choice in answer:
                if choice not in poll.option_ids():
                    raise InvalidAnswer(f"There is no option {choice}.", code="unknown_option")
            if len(answer) > (poll.max_choices or 0):
                raise InvalidAnswer(
                    f"Choose at most {poll.max_choices} options.", code="too_many_choices"
                )
            return sorted(answer)
        if poll.kind == PollKind.RATING:
            scale = poll.scale or 0
            if not _whole(answer):
                raise InvalidAnswer(
                    "Answer with a whole number."
                )  # like a choice of the wrong type
            if not 1 <= answer <= scale:
                raise InvalidAnswer(
                    f"Answer with a whole number from 1 to {scale}.", code="invalid_rating"
                )
            return answer
        return normalise_word(answer)

    # -- state changes -----------------------------------------------------------------
    def apply(self, event: ev.Event) -> list[int]:
        """Fold one committed poll event in; returns the ids of the polls it changed."""
        d = event.data
        if event.type == ev.POLL_CREATED:
            poll = Poll(
                id=d["id"],
                kind=PollKind(d["kind"]),
                text=d["text"],
                options=tuple(d["options"]),
                max_choices=d["max_choices"],
                scale=d["scale"],
                item_id=d["item_id"],
                created_at=event.at,
                hide_results=d["hide_results"],
            )
            self.polls[poll.id] = poll
            self._next_id = max(self._next_id, poll.id + 1)
            return [poll.id]
        poll = self.polls[d["id"]]
        changed = [poll.id]
        match event.type:
            case ev.POLL_ANSWERED:
                participant = d["participant"]
                old = poll.answers.get(participant)
                if old is not None:
                    poll.tally.subtract(_parts(old))
                    # Counter.subtract keeps zero entries; a word nobody has any more goes.
                    for key in _parts(old):
                        if poll.tally[key] <= 0:
                            del poll.tally[key]
                new = d["answer"]
                new = tuple(new) if isinstance(new, list) else new
                poll.answers[participant] = new
                poll.tally.update(_parts(new))
            case ev.POLL_OPENED:
                poll.status = PollStatus.OPEN
                if poll.opened_at is None:
                    poll.opened_at = event.at
                poll.closed_at = None
            case ev.POLL_CLOSED:
                poll.status = PollStatus.CLOSED
                poll.closed_at = event.at
            case ev.POLL_RESULTS_HIDDEN:
                poll.hide_results = bool(d["hide"])
            case ev.POLL_SHOWN:
                previous = self.on_screen
                if previous is not None and previous != poll.id:
                    changed.append(previous)
                self.on_screen = poll.id
            case ev.POLL_UNSHOWN:
                self.on_screen = None
            case _:
                raise ValueError(f"not a poll event: {event.type}")
        return changed


def _parts(answer: Answer) -> tuple[Any, ...]:
    return answer if isinstance(answer, tuple) else (answer,)


def answer_view(answer: Answer) -> Any:
    """An answer as the protocol carries it: a list for multiple choice, else the value."""
    return list(answer) if isinstance(answer, tuple) else answer
