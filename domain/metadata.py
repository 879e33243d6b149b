"""Item metadata: a small flat JSON object a client attaches to a memory and filters by.

Rules (docs/behaviour.md, "Metadata"): at most ``MAX_KEYS`` keys, each an identifier
(``[A-Za-z_][A-Za-z0-9_.-]*``, at most ``MAX_KEY`` characters); values are strings,
numbers or booleans (no null, no nesting); the object encodes to at most ``MAX_BYTES``
bytes of compact JSON. A filter is a set of key/value pairs that must all be equal.

Every index (the SQL side table, the vector stores' payloads) holds one *token* per
pair: the key and a hash of the value's canonical JSON. Equality on tokens is equality
on values (``1`` and ``1.0`` are one number; ``"1"`` and ``1`` differ; ``true`` and ``1``
differ), the token has a fixed size whatever the value, so it fits every engine's
keyword or varchar index, and it never holds the value in clear.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from memvault.domain.errors import InvalidValue

Scalar = str | int | float | bool
Metadata = dict[str, Scalar]

MAX_KEYS = 32
MAX_KEY = 64
MAX_BYTES = 4096
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def require_metadata(value: Any, *, field: str = "metadata") -> Metadata:
    """A validated copy of ``value``; ``None`` is the empty object. Raises InvalidValue
    (TooLarge for the encoded size) naming ``field``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{field} must be a JSON object", field=field)
    if len(value) > MAX_KEYS:
        raise InvalidValue(f"{field} may have at most {MAX_KEYS} keys", field=field)
    result: Metadata = {}
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > MAX_KEY or not _KEY.fullmatch(key):
            raise InvalidValue(
                f"{field} keys must be identifiers of at most {MAX_KEY} characters "
                f"(letters, digits, _ . -; not starting with a digit), not {key!r}",
                field=field,
            )
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidValue(f"{field}.{key} must be a finite number", field=field)
        if not isinstance(item, str | int | float | bool):
            raise InvalidValue(
                f"{field}.{key} must be a string, number or boolean (no null, no nesting)",
                field=field,
            )
        result[key] = item
    if len(encode(result).encode("utf-8")) > MAX_BYTES:
        raise InvalidValue(f"{field} must encode to at most {MAX_BYTES} bytes of JSON", field=field)
    return result


def encode(metadata: Mapping[str, Scalar]) -> str:
    """Compact JSON with sorted keys (the stored form)."""
    return json.dumps(dict(metadata), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def decode(text: str | None) -> Metadata:
    """The stored form back; ``None`` or empty is ``{}``."""
    if not text:
        return {}
    loaded = json.loads(text)
    return dict(loaded) if isinstance(loaded, dict) else {}


def canonical(value: Scalar) -> str:
    """The value as the JSON every index compares: integral floats as integers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def value_hash(value: Scalar) -> str:
    """64 hex characters: sha256 of :func:`canonical`."""
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def token(key: str, value: Scalar) -> str:
    """``key=value_hash`` (keys never hold ``=``), at most 129 characters."""
    return f"{key}={value_hash(value)}"


def tokens(metadata: Mapping[str, Scalar]) -> list[str]:
    """Every pair's token, sorted."""
    return sorted(token(key, value) for key, value in metadata.items())


def matches(metadata: Mapping[str, Scalar], wanted: Mapping[str, Scalar]) -> bool:
    """True when every wanted pair is present with an equal value."""
    have = set(tokens(metadata))
    return all(token(key, value) in have for key, value in wanted.items())


def filter_tokens(wanted: Any, *, field: str = "metadata") -> frozenset[str]:
    """A metadata filter (same rules as the object) as the tokens an item must hold."""
    return frozenset(tokens(require_metadata(wanted, field=field)))
