"""The API's request and response bodies. The same pydantic models validate requests and
write the OpenAPI document (``server.api.openapi``), so the two cannot drift apart."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(BaseModel):
    """Every error answer: ``{"error": {"code": ..., "message": ...}}``."""

    class Body(BaseModel):
        code: str
        message: str
        details: list[dict] | None = None

    error: Body


class InvitationIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    days: int = Field(default=14, ge=1, le=90)


class InvitationOut(BaseModel):
    id: int
    assessment_id: int
    link: str
    expires_at: str


class AssessmentOut(BaseModel):
    id: int
    title: str
    challenges: list[str]
    blind_review: bool


class AssessmentList(BaseModel):
    assessments: list[AssessmentOut]


class ChallengeResult(BaseModel):
    challenge: str
    submission_id: int | None
    status: str | None
    passed: bool | None
    #: passed, passed_flagged, below_bar or failed (graders.verdicts); None: not graded yet.
    verdict: str | None = None
    #: Why a pass is flagged for review: replay, budget, embedded_data.
    review_reasons: list[str] = []
    metric: str
    value: float | None
    bar: float | None


class ConceptChecksOut(BaseModel):
    """The exact concept-check score: checks answered correctly, answered, and asked."""

    correct: int
    answered: int
    total: int


class TheoryTotal(BaseModel):
    #: Reviewers' scores over the answers they have scored; null until one is scored. The
    #: machine's reading of an answer is evidence for reviewers, never a score here.
    total: float | None
    max: float
    #: Every submitted answer has a reviewers' score.
    all_scored: bool


class CandidateOut(BaseModel):
    invitation_id: int
    label: str
    #: Absent (null) for a blind reviewer's token, as on the pages.
    name: str | None
    email: str | None
    state: str
    outcome: str
    attempts: int
    decision: str | None
    results: list[ChallengeResult]
    concept_checks: ConceptChecksOut
    #: Null when the candidate submitted no theory answer.
    theory: TheoryTotal | None = None


class CandidateList(BaseModel):
    candidates: list[CandidateOut]
    total: int
    page: int
    pages: int


class SubmissionOut(BaseModel):
    id: int
    invitation_id: int
    challenge: str
    filename: str
    created_at: str
    status: str | None
    passed: bool | None
    verdict: str | None = None
    review_reasons: list[str] = []


class SubmissionList(BaseModel):
    submissions: list[SubmissionOut]


class ReportOut(BaseModel):
    candidate: dict
    submission: dict
    grading: dict | None
    report: dict | None
