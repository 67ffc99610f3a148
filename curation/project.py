"""The project file (``curation.yaml``): corpus, scores, storage and the team's named recipes.

A recipe is the unit a team configures and publishes: ``{name, method, params, probe}``.
Every run (scheduled, sensor-triggered, launched from the UI or the CLI) reads the recipe's
parameters from this file, so what is published is what the file says. The file is
validated before any run starts; every error names the key at fault.

Environment variables override the file (deployments set them per environment):
``CURATION_CORPUS``, ``CURATION_SCORES``, ``CURATION_SCORE_COLUMNS``, ``CURATION_SCORERS``,
``CURATION_ROOT``, ``CURATION_DATASET`` (dataset-name prefix), ``CURATION_MEMORY_LIMIT_MB``,
``CURATION_ROWS_PER_SHARD``, ``CURATION_RECIPES`` / ``CURATION_METHODS`` (keep only those).
"""

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from curation.ordering.engine import DEFAULTS, METHODS, resolve_params
from curation.ordering.selection import RULES, SelectionError, check_rule, score_problem
from curation.reader.export.spec import ExportSpec
from curation.storage.names import InvalidName, validate_dataset_name
from curation.storage.yaml_file import YamlRefused, read_yaml

CONFIG_ENV = "CURATION_CONFIG"
DEFAULT_CONFIG = "curation.yaml"
#: a recipe parameter that is not an ordering parameter: the JIT window as a share of the
#: corpus, resolved to ``window_size`` when the corpus size is known (see docs/recipes.md)
WINDOW_FRACTION = "window_fraction"


class RecipeError(ValueError):
    """The project file is invalid; the message names the file, the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorpusSpec(_Strict):
    """Where the documents are: a file, a directory or a glob (local or ``s3://``) of
    parquet, JSON lines (plain, ``.gz``, ``.zst``) or CSV, or a Hugging Face
    ``save_to_disk`` directory; anything but parquet is staged once as parquet under
    ``<storage root>/staging`` (:mod:`curation.corpus.staging`)."""

    uri: str = "var/demo/demo_corpus.parquet"
    id_column: str = "id"
    text_column: str = "text"
    #: "column": the records carry their ids in ``id_column``; "file_row": they carry none
    #: (DCLM-baseline), and staging makes ``id_column`` = ``<file>#<row in file>``
    ids: Literal["column", "file_row"] = "column"


class ScoresSpec(_Strict):
    """Where the scores come from: a column of the corpus itself (``column``, or ``uri``
    naming the corpus with its ``columns``), a score table to import, or the built-in
    scorers run on the text."""

    uri: str | None = None
    column: str | None = None  # the corpus's own score column (FineWeb-Edu: int_score)
    id_column: str = "id"
    columns: list[str] = []
    scorers: list[str] = ["compression"]
    normalize: Literal["rank", "zscore", "none"] = "rank"
    weights: list[float] | None = None
    directions: list[int] | None = None

    @field_validator("scorers")
    @classmethod
    def _known_scorers(cls, value: list[str]) -> list[str]:
        from curation.scores.base import SCORERS

        unknown = sorted(set(value) - set(SCORERS))
        if unknown:
            raise ValueError(f"unknown scorer(s) {unknown}; known: {sorted(SCORERS)}")
        if not value:
            raise ValueError("at least one scorer is needed when no score table is given")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> "ScoresSpec":
        if self.column is not None and (self.uri or self.columns):
            raise ValueError(
                "give scores.column (a column of the corpus) or scores.uri with "
                "scores.columns (a score table), not both"
            )
        if self.column is not None and not self.column:
            raise ValueError("scores.column is empty: name the corpus's score column")
        return self


class StorageSpec(_Strict):
    """Where work files and published datasets go (local path or ``s3://bucket/prefix``)."""

    root: str = "var/storage"
    #: where published datasets go; default ``<root>/published`` (a separate bucket is common)
    published: str | None = None
    dataset_prefix: str = ""

    @field_validator("dataset_prefix")
    @classmethod
    def _safe_prefix(cls, value: str) -> str:
        if value:
            validate_dataset_name(value)
        return value


class RunSpec(_Strict):
    """Resources one run may use."""

    memory_limit_mb: int = Field(
        512, ge=160
    )  # curation.stages.memory.WORKING_MB and room for a row
    rows_per_shard: int | None = Field(None, ge=1)  # None: shards of ``shard_mb`` each
    shard_mb: int = Field(256, ge=1)  # uncompressed MiB per output shard
    shard_steps: int = Field(2, ge=1)  # scatter and write units per recipe, at most
    engine: Literal["local", "ray"] = "local"  # where scoring and the reorder run


class RaySpec(_Strict):
    """The Ray cluster ``run.engine: ray`` uses (see curation/engines/ray_cluster.py)."""

    address: str | None = None  # a running cluster ("auto", "host:port"); None: a local one
    num_cpus: int | None = Field(None, ge=1)  # a local Ray's CPUs (None: this machine's)
    object_store_mb: int | None = Field(None, ge=80)  # local store (None: memory_limit_mb)
    scoring_gpus: float = Field(0.0, ge=0)  # GPUs each scoring actor asks for
    shuffle: Literal["objects", "spill"] = "objects"  # how scatter hands buckets to write


class ProbeSpec(_Strict):
    """How recipes with ``probe: true`` are compared (see docs/probes.md)."""

    preset: str = "demo"
    seeds: int | None = Field(None, ge=1, le=64)  # None: the preset's (demo 2, verdict 3)
    overrides: dict[str, Any] = {}


class SelectSpec(_Strict):
    """Selection before ordering (the reference's ``data_selection/``): exactly one rule,
    on the driving score or on the raw score column ``score`` (see docs/recipes.md)."""

    top_fraction: float | None = None  # the reference's top_r: keep K = int(n * R)
    top_k: int | None = None
    threshold: float | None = None  # keep score > t, in input order
    score: str | None = None  # a raw score column; default: the driving score

    @field_validator("top_fraction", "top_k", "threshold", mode="before")
    @classmethod
    def _valid_value(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        try:
            return check_rule(info.field_name, value)
        except SelectionError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _one_rule(self) -> "SelectSpec":
        given = [r for r in RULES if getattr(self, r) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(RULES)}; got {given or 'none'}")
        return self

    @property
    def rule(self) -> tuple[str, float | int]:
        """``(rule, value)`` of the one rule given."""
        name = next(r for r in RULES if getattr(self, r) is not None)
        return name, getattr(self, name)


class Recipe(_Strict):
    """One named ordering a team publishes: a method and its parameters, optionally after
    a selection (``select``) on the same or another score."""

    name: str
    method: str
    params: dict[str, Any] = {}
    probe: bool = False
    description: str = ""
    exports: list[ExportSpec] = []  # opt-in: token/Megatron/MDS/HF exports (docs/reader.md)
    select: SelectSpec | None = None  # keep a subset first; the ordering runs on it

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        validate_dataset_name(value)
        return value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ValueError(f"unknown method {value!r}; choose one of {', '.join(METHODS)}")
        return value

    @field_validator("params")
    @classmethod
    def _valid_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        method = info.data.get("method")
        if method is None:  # the method itself was invalid: reported there
            return value
        params = dict(value)
        fraction = params.pop(WINDOW_FRACTION, None)
        if fraction is not None:
            if "window_size" not in DEFAULTS[method]:
                raise ValueError(f"{WINDOW_FRACTION} does not apply to method {method!r}")
            if "window_size" in params:
                raise ValueError(f"give window_size or {WINDOW_FRACTION}, not both")
            if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
                raise ValueError(f"{WINDOW_FRACTION} must be a number in (0, 1], got {fraction!r}")
            if not 0 < float(fraction) <= 1:
                raise ValueError(f"{WINDOW_FRACTION} must be a number in (0, 1], got {fraction!r}")
        resolve_params(method, params)
        return value

    def ordering_params(self, n_docs: int) -> dict[str, Any]:
        """The method's full parameters for ``n_docs`` documents (the kept ones, when the
        recipe selects: ``window_fraction`` is a share of what is ordered)."""
        params = dict(self.params)
        fraction = params.pop(WINDOW_FRACTION, None)
        if fraction is not None:
            params["window_size"] = max(0, round(float(fraction) * n_docs))
        return resolve_params(self.method, params)

    def fingerprint(self) -> str:
        """Content hash of what this recipe asks for (change detection, override names)."""
        what: list[Any] = [self.method, self.params]
        if self.select is not None:  # absent: recipes without selection keep their hash
            what.append(self.select.model_dump(exclude_none=True))
        text = json.dumps(what, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class Project(_Strict):
    """The whole project file."""

    corpus: CorpusSpec = CorpusSpec()
    scores: ScoresSpec = ScoresSpec()
    storage: StorageSpec = StorageSpec()
    run: RunSpec = RunSpec()
    ray: RaySpec = RaySpec()
    probe: ProbeSpec = ProbeSpec()
    recipes: list[Recipe]

    @model_validator(mode="after")
    def _names_and_sources_fit(self) -> "Project":
        """Refused now, not after a whole run: a prefix that makes a recipe's dataset name
        too long (or otherwise unsafe), and a score source naming the corpus without
        saying which of its columns hold the scores."""
        for recipe in self.recipes:
            try:
                self.dataset_name(recipe.name)
            except InvalidName as exc:
                raise ValueError(
                    f"storage.dataset_prefix {self.storage.dataset_prefix!r} with recipe "
                    f"{recipe.name!r} gives an unusable dataset name: {exc}; shorten the prefix "
                    "or the recipe name"
                ) from None
        if self.scores.uri and same_location(self.scores.uri, self.corpus.uri):
            if not self.scores.columns:
                raise ValueError(
                    "scores.uri is the corpus itself: name its score column(s) in "
                    "scores.columns (or give scores.column)"
                )
        return self

    @field_validator("recipes")
    @classmethod
    def _unique(cls, value: list[Recipe]) -> list[Recipe]:
        if not value:
            raise ValueError("at least one recipe is needed")
        seen: set[str] = set()
        for recipe in value:
            if recipe.name in seen:
                raise ValueError(f"duplicate recipe name {recipe.name!r}")
            seen.add(recipe.name)
        return value

    @model_validator(mode="after")
    def _select_scores(self) -> "Project":
        """A selection's score must exist and have a fixed meaning where the file already
        says which score columns there are (else the ordering stage checks it)."""
        spec = self.scores
        if spec.column:  # the corpus's own score column
            columns = [spec.column]
        else:
            columns = list(spec.columns) if spec.uri else list(spec.scorers)
        problems = []
        for i, recipe in enumerate(self.recipes):
            if recipe.select is None:
                continue
            rule = recipe.select.rule[0]
            problem = score_problem(rule, recipe.select.score, columns or None, spec.normalize)
            if problem:
                problems.append(f"recipes[{i}] (name {recipe.name!r}).select: {problem}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def recipe(self, name: str) -> Recipe:
        for recipe in self.recipes:
            if recipe.name == name:
                return recipe
        raise RecipeError(f"no recipe named {name!r}; recipes: {', '.join(self.recipe_names)}")

    @property
    def recipe_names(self) -> list[str]:
        return [r.name for r in self.recipes]

    @property
    def published_root(self) -> str:
        """Where published datasets live (``storage.published``, else ``<root>/published``)."""
        return self.storage.published or self.path("published")

    def dataset_name(self, recipe: str) -> str:
        """A published dataset is named after its recipe (plus the deployment's prefix)."""
        prefix = self.storage.dataset_prefix
        return validate_dataset_name(f"{prefix}-{recipe}" if prefix else recipe)

    def path(self, *parts: str) -> str:
        """A location under the storage root (local path or s3 URI)."""
        return "/".join([self.storage.root.rstrip("/"), *parts])

    @property
    def corpus_score_columns(self) -> list[str]:
        """The corpus columns the scores are read from (``scores.column``, or
        ``scores.columns`` when ``scores.uri`` is the corpus); empty when they come from a
        score table or the built-in scorers."""
        if self.scores.column:
            return [self.scores.column]
        if self.scores.uri and same_location(self.scores.uri, self.corpus.uri):
            return list(self.scores.columns)
        return []

    @property
    def score_source(self) -> str:
        """What a refresh watches: the score table, or the corpus when scores are built in."""
        return self.scores.uri or self.corpus.uri


def same_location(a: str, b: str) -> bool:
    """Whether two URIs name the same file or directory (trailing slashes, ``.`` and
    ``..`` aside; local paths compared absolute)."""

    def norm(uri: str) -> str:
        if "://" in uri:
            return uri.rstrip("/")
        return os.path.normpath(os.path.abspath(os.path.expanduser(uri)))

    return norm(a) == norm(b)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$CURATION_CONFIG``, else ``curation.yaml`` in the working directory."""
    env = os.environ if env is None else env
    return Path(env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_project(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None):
    """Read, override from the environment, and validate the project file."""
    env = os.environ if env is None else env
    path = Path(path) if path is not None else config_path(env)
    try:
        raw = read_yaml(path) or {}
    except FileNotFoundError:
        raise RecipeError(f"{path}: project file not found (set {CONFIG_ENV})") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    except (YamlRefused, UnicodeDecodeError) as exc:
        raise RecipeError(
            str(exc) if isinstance(exc, YamlRefused) else f"{path}: not UTF-8 text: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    return parse_project(apply_env(_relative_to(raw, path.parent), env), source=str(path))


def _relative_to(raw: dict, base: Path) -> dict:
    """Relative local paths in the file are relative to the file, not the working directory."""
    out = json.loads(json.dumps(raw))
    keys = (("corpus", "uri"), ("scores", "uri"), ("storage", "root"), ("storage", "published"))
    for section, key in keys:
        value = (out.get(section) or {}).get(key) if isinstance(out.get(section), dict) else None
        if isinstance(value, str) and "://" not in value and not os.path.isabs(value):
            out[section][key] = str((base / value).resolve())
    return out


def parse_project(raw: Mapping[str, Any], source: str = "<project>") -> Project:
    """Validate a project mapping; errors name ``source`` and each offending key."""
    try:
        return Project.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(describe_errors(exc, raw, source)) from None


def describe_errors(exc: ValidationError, raw: Mapping[str, Any], source: str) -> str:
    """One line per problem: ``file: recipes[2] (name 'x').params: message``."""
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        key = _key_text(loc, raw)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{source}: {key}: {message}" if loc else f"{source}: {message}")
    return "\n".join(lines)


def _key_text(loc: list, raw: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            name = node[item].get("name") if isinstance(node, list) and item < len(node) else None
            parts[-1] += f"[{item}]" + (f" (name {name!r})" if isinstance(name, str) else "")
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def apply_env(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Today's environment variables, applied over the file (they win)."""
    out = json.loads(json.dumps(raw))  # a deep copy of plain YAML data

    def put(section: str, key: str, value: Any) -> None:
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise RecipeError(f"{section}: must be a mapping to apply {key} from the environment")
        out[section][key] = value

    simple = {
        "CURATION_CORPUS": ("corpus", "uri", str),
        "CURATION_SCORES": ("scores", "uri", str),
        "CURATION_ROOT": ("storage", "root", str),
        "CURATION_PUBLISHED": ("storage", "published", str),
        "CURATION_DATASET": ("storage", "dataset_prefix", str),
        "CURATION_MEMORY_LIMIT_MB": ("run", "memory_limit_mb", _as_int),
        "CURATION_ROWS_PER_SHARD": ("run", "rows_per_shard", _as_int),
        "CURATION_SHARD_MB": ("run", "shard_mb", _as_int),
        "CURATION_SHARD_STEPS": ("run", "shard_steps", _as_int),
        "CURATION_ENGINE": ("run", "engine", str),
        "RAY_ADDRESS": ("ray", "address", str),  # Ray's own variable, honoured as users expect
        "CURATION_PROBE_PRESET": ("probe", "preset", str),
        "CURATION_PROBE_SEEDS": ("probe", "seeds", _as_int),
    }
    for var, (section, key, convert) in simple.items():
        if env.get(var):
            put(section, key, convert(var, env[var]) if convert is _as_int else env[var])
    for var, key in (("CURATION_SCORE_COLUMNS", "columns"), ("CURATION_SCORERS", "scorers")):
        if env.get(var):
            put("scores", key, _as_list(env[var]))
    keep_names, keep_methods = (
        _as_list(env.get("CURATION_RECIPES", "")),
        _as_list(env.get("CURATION_METHODS", "")),
    )
    if keep_names or keep_methods:
        out["recipes"] = _filter_recipes(out.get("recipes") or [], keep_names, keep_methods)
    return out


def _filter_recipes(recipes: list, names: list[str], methods: list[str]) -> list:
    known_names = {r.get("name") for r in recipes if isinstance(r, dict)}
    missing = sorted(set(names) - known_names)
    if missing:
        raise RecipeError(f"CURATION_RECIPES names unknown recipe(s) {missing}")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise RecipeError(f"CURATION_METHODS names unknown method(s) {unknown}; known: {METHODS}")
    return [
        r
        for r in recipes
        if isinstance(r, dict)
        and (not names or r.get("name") in names)
        and (not methods or r.get("method") in methods)
    ]


def _as_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _as_int(var: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RecipeError(f"{var}={text!r}: expected an integer") from None


__all__ = [
    "CONFIG_ENV",
    "InvalidName",
    "Project",
    "Recipe",
    "RecipeError",
    "config_path",
    "load_project",
    "parse_project",
]
