"""Workflows as data: the states and the transition table of each kind of matter (ADR 0013).

The engine (`fengqiao.matters.engine.perform`) knows nothing of any particular workflow: it looks the action up
in the matter's table, checks the source state, who may act (``actor``: a rule name, see `engine.ACTOR_RULES`)
and the permission, requires the declared payload keys, runs the declared effect, moves the state, starts and
stops the declared clocks and writes one timeline row and one audit event. Mediation cases and petitions add
their own `Workflow` to `WORKFLOWS` with their own states, steps and deadline stages; nothing else changes.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

ANY_OPEN = "*"  # a transition allowed from every non-terminal state


@dataclass(frozen=True)
class State:
    code: str
    label: str
    terminal: bool = False
    # While a matter is in this state its running clocks are paused (e.g. waiting for the reporter).
    pauses_clocks: bool = False


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None  # None: the state does not change (notes, supervision, a second unit reporting in)
    actor: str  # rule name in engine.ACTOR_RULES: centre, worker, lead_worker, assist_worker, grid, reporter, …
    permission: str | None  # a Django permission the acting user needs (None: the actor rule suffices)
    requires: tuple[str, ...] = ()  # payload keys that must be given (non-empty)
    start: tuple[str, ...] = ()  # clock stages started
    stop: tuple[str, ...] = ()  # clock stages stopped ("*": every running clock)
    public: bool = False  # shown on the reporter's tracking page
    effect: str | None = None  # name in engine.EFFECTS: the side effects beyond state and clocks


@dataclass(frozen=True)
class Workflow:
    name: str
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    by_action: dict = field(init=False, repr=False, compare=False)
    by_state: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "by_action", {t.action: t for t in self.transitions})
        object.__setattr__(self, "by_state", {s.code: s for s in self.states})
        codes = set(self.by_state)
        assert self.initial in codes, f"{self.name}: unknown initial state {self.initial}"
        assert len(self.by_action) == len(self.transitions), f"{self.name}: duplicate action"
        for t in self.transitions:
            assert t.target is None or t.target in codes, f"{self.name}.{t.action}: unknown target {t.target}"
            for source in t.sources:
                assert source == ANY_OPEN or source in codes, f"{self.name}.{t.action}: unknown source {source}"

    def state(self, code) -> State:
        return self.by_state[code]

    def allows_from(self, transition: Transition, state: str) -> bool:
        if state in transition.sources:
            return True
        return ANY_OPEN in transition.sources and not self.by_state[state].terminal

    def terminal(self) -> set[str]:
        return {s.code for s in self.states if s.terminal}


SUBMITTED, ACCEPTED, DECLINED = "submitted", "accepted", "declined"
DISPATCHED, IN_PROGRESS, WAITING = "dispatched", "in_progress", "waiting"
HANDLED, VERIFIED, REPLIED, CLOSED, MERGED = "handled", "verified", "replied", "closed", "merged"

TRIAGE = "matters.triage_matter"
WORK = "matters.work_matter"
SUPERVISE = "matters.supervise_matter"
VIEW = "matters.view_matter"

MATTER = Workflow(
    name="matter",
    initial=SUBMITTED,
    states=(
        State(SUBMITTED, _("submitted")),
        State(ACCEPTED, _("accepted")),
        State(DECLINED, _("declined"), terminal=True),
        State(DISPATCHED, _("dispatched")),
        State(IN_PROGRESS, _("in progress")),
        State(WAITING, _("waiting for the reporter"), pauses_clocks=True),
        State(HANDLED, _("handled")),
        State(VERIFIED, _("verified")),
        State(REPLIED, _("replied")),
        State(CLOSED, _("closed"), terminal=True),
        State(MERGED, _("merged"), terminal=True),
    ),
    transitions=(
        # Intake → 受理 / 不予受理
        Transition(
            "accept", _("accept"), (SUBMITTED,), ACCEPTED, "centre", TRIAGE,
            start=("dispatch",), stop=("accept",), public=True, effect="accept",
        ),
        Transition(
            "decline", _("decline"), (SUBMITTED,), DECLINED, "centre", TRIAGE,
            requires=("reason",), stop=("*",), public=True,
        ),
        # 派单 point-to-point; 吹哨报到: a lead and assisting units, each must report in.
        Transition(
            "dispatch", _("dispatch"), (ACCEPTED,), DISPATCHED, "centre", TRIAGE,
            requires=("targets",), start=("handle",), stop=("dispatch",), public=True, effect="dispatch",
        ),
        Transition(
            "transfer", _("transfer"), (DISPATCHED, IN_PROGRESS, WAITING), DISPATCHED, "centre", TRIAGE,
            requires=("targets", "reason"), public=True, effect="transfer",
        ),
        Transition(
            "acknowledge", _("acknowledge"), (DISPATCHED,), IN_PROGRESS, "lead_worker", WORK,
            public=True, effect="acknowledge",
        ),
        Transition(
            "report_in", _("report in (assisting unit)"), (DISPATCHED, IN_PROGRESS, WAITING), None, "assist_worker",
            WORK,
            effect="acknowledge",
        ),
        Transition(
            "return", _("return"), (DISPATCHED, IN_PROGRESS), ACCEPTED, "lead_worker", WORK,
            requires=("reason",), start=("dispatch",), stop=("handle",), effect="return_",
        ),
        Transition(
            "wait_for_reporter", _("wait for the reporter"), (IN_PROGRESS,), WAITING, "lead_worker", WORK,
            requires=("reason",), public=True,
        ),
        Transition("resume", _("resume"), (WAITING,), IN_PROGRESS, "lead_worker", WORK, public=True),
        Transition(
            "supplement", _("answer (the reporter)"), (WAITING,), IN_PROGRESS, "reporter", None,
            requires=("reason",), public=True, effect="supplement",
        ),
        Transition(
            "request_extension", _("request an extension"), (DISPATCHED, IN_PROGRESS, WAITING), None,
            "lead_worker", WORK, requires=("reason", "amount"), effect="request_extension",
        ),
        Transition(
            "decide_extension", _("decide on an extension"), (DISPATCHED, IN_PROGRESS, WAITING), None,
            "centre", TRIAGE, requires=("decision",), effect="decide_extension",
        ),
        # 办结 / 就地解决
        Transition(
            "handle", _("handle"), (IN_PROGRESS,), HANDLED, "lead_worker", WORK,
            requires=("result",), start=("reply",), stop=("handle",), public=True, effect="handle",
        ),
        Transition(
            "resolve_on_spot", _("resolve on the spot"), (SUBMITTED, ACCEPTED), HANDLED, "grid", WORK,
            requires=("result",), start=("reply",), stop=("*",), public=True, effect="resolve_on_spot",
        ),
        # 核查 on site: passed, or sent back to the unit that handled it
        Transition("verify", _("verify"), (HANDLED,), VERIFIED, "centre", TRIAGE, public=True),
        Transition(
            "reject_result", _("reject the result"), (HANDLED,), IN_PROGRESS, "centre", TRIAGE,
            requires=("reason",), start=("handle",), stop=("reply",), effect="reject_result",
        ),
        # 答复 → 回访 and rating → closed; 重办 when unsatisfied
        Transition(
            "reply", _("reply"), (VERIFIED,), REPLIED, "centre", TRIAGE,
            requires=("reply",), start=("revisit",), stop=("reply",), public=True, effect="reply",
        ),
        Transition(
            "rate", _("rate"), (REPLIED,), CLOSED, "reporter", None,
            requires=("rating",), stop=("*",), public=True, effect="rate",
        ),
        Transition(
            "revisit", _("record the revisit"), (REPLIED,), CLOSED, "centre", TRIAGE,
            requires=("rating",), stop=("*",), public=True, effect="rate",
        ),
        Transition(
            "reopen", _("reopen"), (REPLIED,), ACCEPTED, "reporter_or_centre", None,
            requires=("reason",), start=("dispatch",), stop=("*",), public=True, effect="reopen",
        ),
        Transition(
            "close", _("close without rating"), (REPLIED,), CLOSED, "centre", TRIAGE,
            requires=("reason",), stop=("*",), public=True, effect="close",
        ),
        # 并单, 上报, 督办, notes
        Transition(
            "merge", _("merge into another matter"), (SUBMITTED, ACCEPTED), MERGED, "centre", TRIAGE,
            requires=("parent",), stop=("*",), public=True, effect="merge",
        ),
        Transition(
            "escalate", _("escalate a level"), (SUBMITTED, ACCEPTED), None, "centre", TRIAGE,
            requires=("reason",), effect="escalate",
        ),
        Transition(
            "supervise", _("supervise"), (ANY_OPEN,), None, "supervisor", SUPERVISE,
            requires=("note",), effect="supervise",
        ),
        Transition("note", _("add a note"), (ANY_OPEN,), None, "staff", VIEW, requires=("reason",)),
        # The reporter adds something at any time (a 311 client's comment): no state change, the unit is told.
        Transition(
            "comment", _("add a comment (the reporter)"), (ANY_OPEN,), None, "reporter", None,
            requires=("reason",), public=True, effect="comment",
        ),
    ),
)  # fmt: skip

WORKFLOWS: dict[str, Workflow] = {MATTER.name: MATTER}


def get_workflow(name: str) -> Workflow:
    try:
        return WORKFLOWS[name]
    except KeyError:
        raise LookupError(f"unknown workflow {name!r}; known: {', '.join(sorted(WORKFLOWS))}") from None


def terminal_states() -> set[str]:
    return {code for wf in WORKFLOWS.values() for code in wf.terminal()}
