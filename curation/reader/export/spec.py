"""Which exports a recipe asks for, and running them for one published version.

A recipe opts in with ``exports:`` in curation.yaml, e.g.::

    exports:
      - {format: tokens, tokenizer: bytes}
      - {format: megatron, tokenizer: "tiktoken:/models/gpt2.tiktoken"}
      - {format: mds, tokenizer: "hf:/models/tok/tokenizer.json", seq_len: 2048}

Every format is written from the token export of its tokenizer (made once, shared), under
``<out_root>/<format>-<tokenizer fingerprint>[-<seq_len>-<tail>]``. Megatron, MDS and HF
datasets are local files for their readers, so they need a local ``out_root``.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from curation import storage
from curation.reader.export.hf import export_hf
from curation.reader.export.mds import export_mds
from curation.reader.export.megatron import export_megatron
from curation.reader.export.tokens import export_tokens
from curation.tokens.tokenizer import load_tokenizer

FORMATS = ("tokens", "megatron", "mds", "hf")


class ExportSpec(BaseModel):
    """One export of a recipe's published version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["tokens", "megatron", "mds", "hf"]
    tokenizer: str = "bytes"
    seq_len: int = Field(2048, ge=1)
    tail: Literal["drop", "pad"] = "drop"

    @field_validator("tokenizer")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value != "bytes" and not value.startswith(("hf:", "tiktoken:")):
            if not value.endswith("tokenizer.json"):
                raise ValueError(
                    f"unknown tokenizer {value!r}: use 'bytes', 'hf:/path/tokenizer.json' "
                    "or 'tiktoken:/path/ranks.tiktoken'"
                )
        return value


def run_exports(version_uri: str, out_root: str, specs: list[ExportSpec]) -> list[dict]:
    """Write every requested export of a published version; what was written, per spec."""
    if not specs:
        return []
    local = not storage.resolve(out_root).is_s3
    done, token_dirs = [], {}
    for spec in specs:
        tok = load_tokenizer(spec.tokenizer)
        if spec.format != "tokens" and not local:
            raise ValueError(f"{spec.format} exports are local files: {out_root} is on S3")
        tokens_dir = token_dirs.get(tok.fingerprint)
        if tokens_dir is None:
            tokens_dir = f"{out_root.rstrip('/')}/tokens-{tok.fingerprint}"
            export_tokens(version_uri, tokens_dir, tok)
            token_dirs[tok.fingerprint] = tokens_dir
        uri = tokens_dir
        if spec.format == "megatron":
            uri = f"{out_root.rstrip('/')}/megatron-{tok.fingerprint}"
            storage.resolve(uri).fs.create_dir(uri, recursive=True)
            uri = export_megatron(tokens_dir, f"{uri}/data")[0][: -len(".bin")]
        elif spec.format in ("mds", "hf"):
            uri = (
                f"{out_root.rstrip('/')}/{spec.format}-{tok.fingerprint}-{spec.seq_len}-{spec.tail}"
            )
            writer = export_mds if spec.format == "mds" else export_hf
            writer(tokens_dir, uri, spec.seq_len, spec.tail)
        done.append({**spec.model_dump(), "uri": uri, "tokens": tokens_dir})
    return done
