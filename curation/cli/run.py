"""``curation run``: the whole pipeline (all recipes, or the named ones) on the configured
instance.

The orchestration layer is the project's code location (``assets/`` and ``definitions.py`` in the
project directory), not part of the installed library, so this command loads it from there,
as the orchestrator's own CLI does: from ``$CURATION_CODE_LOCATION``, else the current
directory, else the project file's directory, else the checkout this library runs from.
"""

import argparse
import importlib
import os
import sys
from pathlib import Path

import curation
from curation.project import config_path, load_project

CODE_LOCATION_ENV = "CURATION_CODE_LOCATION"


class NoCodeLocation(ValueError):
    """No ``definitions.py`` where the run looked for the project's code location."""


def add_run_parser(sub) -> None:
    p = sub.add_parser("run", help="run the whole pipeline on the configured instance")
    p.add_argument("--recipe", action="append", help="only this recipe (repeatable)")
    p.add_argument("--config", help=f"project file (default: {config_path()})")
    p.add_argument("--quiet", action="store_true", help="warnings and the summary only")
    p.set_defaults(func=cmd_run)


def code_location() -> Path:
    """The directory holding ``definitions.py`` and ``assets/``."""
    candidates = [
        os.environ.get(CODE_LOCATION_ENV),
        os.getcwd(),
        config_path().resolve().parent,
        Path(curation.__file__).resolve().parents[1],
    ]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "definitions.py").is_file():
            return Path(candidate).resolve()
    looked = ", ".join(str(c) for c in filter(None, candidates))
    raise NoCodeLocation(
        f"no code location (definitions.py, assets/) in {looked}; run from the "
        f"project directory or set {CODE_LOCATION_ENV}"
    )


def cmd_run(args: argparse.Namespace) -> int:
    if args.config:
        os.environ["CURATION_CONFIG"] = args.config
    project = load_project()  # a bad project file is refused before anything is loaded
    for name in args.recipe or []:
        project.recipe(name)
    from curation.stages.preflight import check_project

    check_project(project, str(config_path()))  # its sources too: no run for a mistake
    location = str(code_location())
    if location not in sys.path:
        sys.path.insert(0, location)
    pipeline = importlib.import_module("assets.run")
    return pipeline.run_pipeline(args.recipe, quiet=args.quiet)
