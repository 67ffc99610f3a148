"""The one IO manager: small typed refs as strict JSON beside the data (local or S3).

Stages exchange refs (``curation.refs``), never data, so JSON is enough and readable by
anyone. Unlike Dagster's pickle IO managers, this one stores a step that covers several
recipe partitions (a single-run backfill) as one file per partition, and loads several
upstream partitions as ``{partition: ref}``.
"""

from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext

from curation import refs
from curation.machine import release_memory
from curation.storage import atomic_write, exists, read_bytes, resolve


class RefIOManager(ConfigurableIOManager):
    """Refs under ``<root>/dagster/``: assets by key and partition, op outputs by run."""

    root: str

    def _base(self) -> str:
        return "/".join([self.root.rstrip("/"), "dagster"])

    def _asset_uri(self, key_path: list[str], partition: str | None) -> str:
        name = "/".join(key_path)
        leaf = f"{partition}.json" if partition is not None else "value.json"
        return f"{self._base()}/assets/{name}/{leaf}"

    def _op_uri(self, context: OutputContext) -> str:
        parts = [p for p in context.get_identifier() if p]
        return f"{self._base()}/runs/{'/'.join(parts)}.json"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._store(context, obj)
        # The step's work is done once its output is stored: hand the memory it freed back
        # to the OS before the next step runs in this process (in-process executor).
        release_memory()

    def _store(self, context: OutputContext, obj: Any) -> None:
        if not context.has_asset_key:
            atomic_write(resolve(self._op_uri(context)), refs.dumps(obj).encode())
            return
        key_path = list(context.asset_key.path)
        if not context.has_asset_partitions:
            atomic_write(resolve(self._asset_uri(key_path, None)), refs.dumps(obj).encode())
            return
        keys = list(context.asset_partition_keys)
        if len(keys) == 1 and not (isinstance(obj, dict) and set(obj) == set(keys)):
            obj = {keys[0]: obj}
        if not isinstance(obj, dict) or set(obj) != set(keys):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: a step covering partitions {keys} "
                "must return {partition: value} for exactly those partitions"
            )
        for key in keys:
            atomic_write(resolve(self._asset_uri(key_path, key)), refs.dumps(obj[key]).encode())

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        if upstream is None or not context.has_asset_key:
            return refs.loads(read_bytes(resolve(self._op_uri(upstream))))
        key_path = list(context.asset_key.path)
        if not context.has_asset_partitions:
            return refs.loads(read_bytes(resolve(self._asset_uri(key_path, None))))
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        values = {}
        for key in context.asset_partition_keys:
            loc = resolve(self._asset_uri(key_path, key))
            if allow_missing and not exists(loc):
                continue  # a consumer that reports what is missing (e.g. the probe report)
            values[key] = refs.loads(read_bytes(loc))
        return values
