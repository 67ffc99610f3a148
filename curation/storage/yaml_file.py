"""YAML read with bounds: a project file is small, and an alias bomb ("billion laughs") must
be refused by name, not expanded until memory runs out.

PyYAML resolves aliases to shared nodes, so the bomb costs nothing to parse; it explodes
when the document is walked as a tree (copied, dumped, validated). The expanded size of
the node graph is counted with memoisation (cheap even for a bomb) before anything is
constructed.
"""

import os

import yaml

MAX_BYTES = 1 << 20  # a project file of more than 1 MiB is not a project file
MAX_NODES = 100_000  # scalars + collections once aliases are expanded
UNBOUNDED = 1 << 62


class YamlRefused(ValueError):
    """The file is too large or expands past the node limit."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document once every alias is expanded (a recursive alias: unbounded)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        kids = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(k)] for k in kids), UNBOUNDED)
            continue
        if id(node) in sizes:
            continue
        if any(id(k) in open_nodes or k is node for k in kids):
            return UNBOUNDED
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in sizes)
    return sizes[id(root)]


def read_yaml(path: str | os.PathLike, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES):
    """The document in ``path`` (safe types only), refused when it is larger than
    ``max_bytes`` or expands to more than ``max_nodes`` nodes."""
    size = os.path.getsize(path)
    if size > max_bytes:
        raise YamlRefused(
            f"{path}: {size:,} bytes, more than the {max_bytes:,} a project file may have"
        )
    with open(path, encoding="utf-8") as f:
        text = f.read()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes = _expanded_size(node)
        if nodes > max_nodes:
            raise YamlRefused(
                f"{path}: expands to more than {max_nodes:,} values through YAML aliases "
                f"(&anchor/*alias); refusing it as an alias bomb"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()
