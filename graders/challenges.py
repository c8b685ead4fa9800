"""Challenges as data: the ``challenge.toml`` schema, loading and the registry.

A challenge folder holds ``challenge.toml`` (validated here), the statements in
English and Chinese, a starter file, a reference solution and known-bad examples.
Every key of the schema is declared below with its type, default and meaning;
``assay challenges schema`` prints that table, so the file format is documented by
the code that reads it.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graders.errors import ChallengeSpecError, UnknownChallengeError
from graders.metrics import METRICS
from graders.paths import challenges_dir

#: Suffix of a tier whose test split an operator imported (``full-private``): it trains on its
#: base tier's train split, so it keeps that tier's bars and limits.
PRIVATE_SUFFIX = "-private"


def base_tier(tier: str) -> str:
    """The tier a private tier was made from (``full-private`` -> ``full``); others unchanged."""
    return tier.removesuffix(PRIVATE_SUFFIX)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Spec):
    """Which prepared dataset the challenge trains and tests on."""

    name: Literal["mnist", "reviews"] = Field(
        description="Dataset id, as prepared by `assay data prepare`."
    )
    default_tier: str = Field(
        description="Tier graded when none is asked for (e.g. `sample`, `full`)."
    )
    input_kind: Literal["image", "text"] = Field(
        description="What one input is: an image tensor or a raw string."
    )
    input_shape: list[int] = Field(
        default_factory=list, description="Shape of one input (empty for text)."
    )
    input_dtype: str = Field(
        description="NumPy dtype of the inputs handed to the candidate, e.g. `float32`, `object`."
    )
    num_classes: int = Field(
        ge=2, description="Number of classes; predictions are ids in [0, num_classes)."
    )
    class_names: list[str] = Field(description="Human name of each class id, in id order.")
    extra_sets: list[str] = Field(
        default_factory=list,
        description="Out-of-domain test sets predicted and reported beside the main score, never in the verdict.",
    )

    @model_validator(mode="after")
    def _names_match_classes(self) -> DatasetSpec:
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names for {self.num_classes} classes"
            )
        return self


class ContractSpec(_Spec):
    """What the candidate's file must define, and who predicts."""

    required: list[Literal["build_model", "train", "predict"]] = Field(
        default=["build_model"],
        description="Functions the file must define (function mode); `build_model` always.",
    )
    optional: list[Literal["train", "predict"]] = Field(
        default=["train"],
        description="Functions the harness calls when the file defines them; others are ignored "
        "with a warning (the challenge's default fit or predict runs instead). `predict` may be "
        'listed only when `predict = "candidate"`.',
    )
    predict: Literal["platform", "candidate"] = Field(
        default="platform",
        description="Who predicts the test inputs. `platform`: the predict sandbox loads the saved "
        "model with Keras `safe_mode` (standard layers only) and calls `model.predict`; the "
        "candidate's file is not even placed there, so a lookup of public test labels cannot run. "
        "`candidate`: the file is imported again and its own `predict()` is called (say why in "
        "the statement).",
    )
    script_mode: bool = Field(
        default=False, description="Whether a plain Keras script (no functions) is accepted."
    )
    script_dataset: str = Field(
        default="", description="`keras.datasets` module served in script mode, e.g. `mnist`."
    )

    @model_validator(mode="after")
    def _build_model_required(self) -> ContractSpec:
        if "build_model" not in self.required:
            raise ValueError("contract.required must name build_model")
        if self.predict == "platform" and "predict" in (*self.required, *self.optional):
            raise ValueError(
                'contract.required/optional name predict, but contract.predict is "platform": '
                "the platform predicts and never calls the candidate's predict()"
            )
        return self


class BudgetSpec(_Spec):
    """Size bars of the trained model, checked beside the metric bars (0: no bar)."""

    max_params: int = Field(
        default=0, ge=0, description="Most parameters the trained model may have."
    )
    max_model_kb: int = Field(
        default=0, ge=0, description="Largest saved model file (`model.keras`, KiB)."
    )


class ShadowSpec(_Spec):
    """The shadow test: the test inputs again, slightly changed with a secret seed per grading."""

    enabled: bool = Field(default=True, description="Whether every grading runs the shadow set.")
    max_gap: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Flag the report when the bar metric on the shadow set is worse than on the "
        "test set by more than this (chosen from honest models' measured gaps).",
    )


class FitSpec(_Spec):
    """Default training used when the candidate defines no `train()`."""

    optimizer: str = Field(
        default="adam", description="Optimizer name for `compile` when the model is uncompiled."
    )
    loss: str = Field(description="Loss name for `compile` when the model is uncompiled.")
    metrics: list[str] = Field(default=["accuracy"], description="Keras metrics for `compile`.")
    epochs: int = Field(ge=1, description="Epochs of the default `fit`.")
    batch_size: int = Field(ge=1, description="Batch size of the default `fit`.")
    validation_split: float = Field(
        default=0.1, ge=0, lt=1, description="Validation split of the default `fit`."
    )


class TierLimitsSpec(_Spec):
    """Time limits of one dataset tier, replacing the challenge-wide ones."""

    train_seconds: int | None = Field(default=None, ge=1, description="Train phase limit.")
    predict_seconds: int | None = Field(default=None, ge=1, description="Predict phase limit.")


class LimitsSpec(_Spec):
    """Sandbox limits for the two phases."""

    train_seconds: int = Field(
        default=900, ge=1, description="Wall-clock limit of the train phase."
    )
    predict_seconds: int = Field(
        default=120, ge=1, description="Wall-clock limit of the predict phase."
    )
    memory_mb: int = Field(default=4096, ge=64, description="Memory limit of each phase (no swap).")
    cpus: float = Field(default=2.0, gt=0, description="CPU quota of each phase.")
    processes: int = Field(
        default=256, ge=8, description="Maximum processes and threads in the sandbox."
    )
    output_mb: int = Field(
        default=256, ge=1, description="Size limit of the writable output folder."
    )
    log_kb: int = Field(
        default=256, ge=1, description="Captured stdout/stderr kept for the report, per stream."
    )
    gpus: int = Field(
        default=0, ge=0, description="GPUs requested when the host has them (0: CPU only)."
    )
    tiers: dict[str, TierLimitsSpec] = Field(
        default_factory=dict,
        description="Per dataset tier, `[limits.tiers.TIER]` time limits that replace the ones "
        "above (a sample tier needs far less than the full data).",
    )


class ChallengeSpec(_Spec):
    """One challenge, as read from its `challenge.toml`."""

    slug: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$", description="Id used in URLs and the CLI; the folder name."
    )
    title: str = Field(min_length=1, description="Title shown to candidates and reviewers.")
    title_zh: str = Field(default="", description="Chinese title.")
    summary: str = Field(default="", description="One-line description for listings.")
    dataset: DatasetSpec
    contract: ContractSpec = Field(default_factory=ContractSpec)
    fit: FitSpec
    metrics: list[str] = Field(
        description="Metrics to report, by name (see `graders.metrics.METRICS`)."
    )
    primary_metric: str = Field(description="The headline metric of the report.")
    thresholds: dict[str, dict[str, float]] = Field(
        description="Pass bars per dataset tier: `[thresholds.TIER]` with `metric = bar`; all must be met."
    )
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    shadow: ShadowSpec = Field(default_factory=ShadowSpec)
    reference: str = Field(
        default="reference/solution.py", description="Reference solution, relative to the folder."
    )
    starter: str = Field(default="starter.py", description="Starter file, relative to the folder.")

    @model_validator(mode="after")
    def _metrics_known(self) -> ChallengeSpec:
        bars = [(f"thresholds.{tier}", m) for tier, b in self.thresholds.items() for m in b]
        named = [("metrics", m) for m in self.metrics] + [("primary_metric", self.primary_metric)]
        unknown = [f"{key}: {m!r}" for key, m in [*named, *bars] if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {'; '.join(unknown)}; known: {sorted(METRICS)}")
        # Only the metrics listed in `metrics` are computed: a bar on any other would always miss.
        unreported = [f"{key}: {m!r}" for key, m in bars if m not in self.metrics]
        if unreported:
            raise ValueError(f"bar on a metric not listed in metrics: {'; '.join(unreported)}")
        if self.primary_metric not in self.metrics:
            raise ValueError(f"primary_metric {self.primary_metric!r} must be listed in metrics")
        if self.dataset.default_tier not in self.thresholds:
            raise ValueError(
                f"dataset.default_tier {self.dataset.default_tier!r} has no [thresholds] table"
            )
        return self

    def limits_for(self, tier: str) -> LimitsSpec:
        """The limits that apply on ``tier``: the challenge's, with that tier's overrides."""
        override = self.limits.tiers.get(base_tier(tier))
        if override is None:
            return self.limits
        changes = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.limits.model_copy(update=changes)

    def bars(self, tier: str) -> dict[str, float]:
        """The pass bars of one dataset tier (a private tier has its base tier's bars)."""
        try:
            return self.thresholds[base_tier(tier)]
        except KeyError:
            raise UnknownChallengeError(
                f"challenge {self.slug!r} has no thresholds for tier {tier!r} (has: {', '.join(self.thresholds)})"
            ) from None


class Challenge:
    """A loaded challenge: its validated spec and the files of its folder."""

    def __init__(self, spec: ChallengeSpec, folder: Path):
        self.spec = spec
        self.folder = folder

    @property
    def slug(self) -> str:
        return self.spec.slug

    def statement(self, lang: str = "en") -> str:
        """The candidate-facing statement in ``lang`` (``en`` or ``zh``)."""
        return (self.folder / f"statement.{lang}.md").read_text(encoding="utf-8")

    def path(self, relative: str) -> Path:
        """A file of the challenge folder."""
        return self.folder / relative

    def with_bars(self, tier: str, bars: dict[str, float]) -> Challenge:
        """This challenge with ``tier``'s bars replaced where ``bars`` names a metric.

        An assessment may set a stricter or gentler bar than the challenge's; it may also add
        a bar on any metric the challenge reports. ``UnknownChallengeError`` for a metric the
        challenge does not report or a bar outside [0, 1].
        """
        unknown = sorted(set(bars) - set(self.spec.metrics))
        if unknown:
            raise UnknownChallengeError(
                f"bar on {', '.join(unknown)}: {self.slug!r} reports only {', '.join(self.spec.metrics)}"
            )
        if any(not 0.0 <= float(v) <= 1.0 for v in bars.values()):
            raise UnknownChallengeError(f"bars must lie between 0 and 1: {bars}")
        thresholds = {**self.spec.thresholds, tier: {**self.spec.bars(tier), **bars}}
        return Challenge(self.spec.model_copy(update={"thresholds": thresholds}), self.folder)


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid challenge spec"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


def load_challenge(folder: Path) -> Challenge:
    """Read and validate ``folder/challenge.toml``; errors name the file, key and reason."""
    path = folder / "challenge.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChallengeSpecError(f"{path}: missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ChallengeSpecError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = ChallengeSpec.model_validate(raw)
    except ValidationError as exc:
        raise ChallengeSpecError(_format_error(path, exc)) from None
    if spec.slug != folder.name:
        raise ChallengeSpecError(
            f"{path}: slug: {spec.slug!r} must equal the folder name {folder.name!r}"
        )
    return Challenge(spec, folder)


@cache
def _registry(root: Path) -> dict[str, Challenge]:
    folders = sorted(p.parent for p in root.glob("*/challenge.toml"))
    return {c.slug: c for c in map(load_challenge, folders)}


def all_challenges(root: Path | None = None) -> dict[str, Challenge]:
    """Every challenge under ``root`` (default: the configured challenges folder), by slug."""
    return _registry((root or challenges_dir()).resolve())


def get_challenge(slug: str, root: Path | None = None) -> Challenge:
    """The challenge ``slug``, or ``UnknownChallengeError`` listing the known slugs."""
    challenges = all_challenges(root)
    if slug not in challenges:
        raise UnknownChallengeError(
            f"no challenge {slug!r}; known: {', '.join(challenges) or 'none'}"
        )
    return challenges[slug]


def schema_rows(
    model: type[BaseModel] = ChallengeSpec, prefix: str = ""
) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every key of the schema, nested tables flattened."""
    rows = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.append((f"[{prefix}{name}]", "table", "", (ann.__doc__ or "").strip()))
            rows += schema_rows(ann, f"{prefix}{name}.")
            continue
        default = (
            "required"
            if field.is_required()
            else repr(field.get_default(call_default_factory=True))
        )
        # list[str] and Literal[...] also have a __name__ ("list", "Literal"): print them whole.
        type_name = ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")
        type_name = type_name.replace("graders.challenges.", "")
        rows.append((f"{prefix}{name}", type_name, default, field.description or ""))
    return rows
