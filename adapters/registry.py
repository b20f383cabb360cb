"""The adapter plugin registry: one module per external system, each declaring its configuration
and a small interface (which outbox topics it takes, how a message becomes an HTTP request, how
the answer is read). Configuration comes from one JSON document per deployment and is validated
at start-up, so a typo in a URL fails the worker's launch instead of the first delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from engine.errors import MotcuaError

SIGNATURE_HEADER = "X-Motcua-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CONFIG_ENV = "MOTCUA_ADAPTERS"


class ConfigError(MotcuaError):
    """The adapters' configuration is wrong; every problem is listed, each naming its key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid adapters configuration:\n  " + "\n  ".join(problems))


class MessageRejected(Exception):
    """The adapter cannot map this message to a request (bad or missing data): retrying the
    same message would fail the same way, so it goes straight to the dead letters."""


@dataclass(frozen=True)
class Message:
    """An outbox row as adapters see it, detached from the database session."""

    id: int
    case_id: int | None
    topic: str
    payload: dict[str, Any]
    idempotency_key: str
    created_at: datetime


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """How one answer is classified: delivered, try again later, or never (dead letter)."""

    result: Literal["delivered", "retry", "dead"]
    reason: str = ""
    # The receiver's own reply code when a DirectAdapter talks to it (an SMTP reply, a gateway's
    # HTTP status); recorded as the attempt's status code.
    code: int | None = None


def classify_status(status: int) -> Outcome:
    """The default reading of an HTTP status: only 5xx and 429 are worth retrying; any other
    non-2xx means the receiver understood us and refused, and will refuse again."""
    if 200 <= status < 300:
        return Outcome("delivered")
    if status == 429 or status >= 500:
        return Outcome("retry", f"HTTP {status}")
    return Outcome("dead", f"HTTP {status}")


class Adapter(ABC):
    """One configured receiver. `name` is the plugin (module) name; `instance` names this
    receiver in delivery attempts and must stay stable across restarts, because it is how a
    retry knows which receivers already have a message."""

    name: ClassVar[str]

    def __init__(self, instance: str, url: str, secret: str, topics: Iterable[str], timeout: float):
        self.instance = instance
        self.url = url
        self.secret = secret
        self.topics = frozenset(topics)
        self.timeout = timeout

    @classmethod
    @abstractmethod
    def from_config(cls, raw: Mapping[str, Any], path: str, problems: list[str]) -> list[Adapter]:
        """Build the adapter instances described by `raw` (the value under `path`), appending
        one message per problem to `problems` rather than stopping at the first."""

    def takes(self, message: Message) -> bool:
        return message.topic in self.topics

    @abstractmethod
    def build_request(self, message: Message) -> Request: ...

    def read_response(self, status: int, body: bytes) -> Outcome:
        return classify_status(status)

    def bind(self, m: Any) -> None:
        """Give the adapter the engine (a `Motcua`) it may read from at send time; the worker's
        caller does this once. Most adapters need nothing beyond the message: a no-op."""
        return None

    # -- helpers for subclasses -------------------------------------------------------------

    def json_request(self, message: Message, document: Any) -> Request:
        # Sorted keys and no ASCII escaping: the signature is over these exact bytes, and
        # Vietnamese text stays readable in the receiver's logs.
        body = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: message.idempotency_key,
            SIGNATURE_HEADER: sign(self.secret, body),
        }
        return Request("POST", self.url, headers, body)


class DirectAdapter(Adapter):
    """An adapter that reaches its receiver itself instead of handing the worker one HTTP
    request: mail over SMTP, or HTTP that first needs a lookup and may have nothing to send.
    The worker calls `deliver` and records its Outcome like an HTTP answer: `delivered` (also
    for "nothing to send", with the reason), `retry`, or `dead`; MessageRejected means dead."""

    @abstractmethod
    def deliver(self, message: Message) -> Outcome: ...

    def build_request(self, message: Message) -> Request:
        raise TypeError(f"adapter {self.name!r} delivers messages itself; call deliver()")


class PortalAdapter(Adapter):
    """A national system that takes the status changes of one kind of case as a JSON body whose
    field names are configuration (no official specification is public). Subclasses name the
    kind, the default field names and, optionally, more configuration keys (`extra_config`)."""

    case_kind: ClassVar[str]
    default_fields: ClassVar[dict[str, str]]

    def __init__(self, *, fields: dict[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self.fields = {**self.default_fields, **fields}

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], path: str, problems: list[str]) -> list[Adapter]:
        reader = Reader(raw, path, problems)
        adapter = cls(
            instance=cls.name,
            url=reader.url(),
            secret=reader.secret(),
            topics=("case.status_changed",),
            timeout=reader.number("timeout", 10, minimum=0.05, maximum=120),
            fields=reader.string_map("fields", cls.default_fields),
            **cls.extra_config(raw, reader),
        )
        reader.no_other_keys()
        return [adapter]

    @classmethod
    def extra_config(cls, raw: Mapping[str, Any], reader: Reader) -> dict[str, Any]:
        return {}

    def takes(self, message: Message) -> bool:
        # Dossiers go to the public-service portal, feedback to the feedback system.
        return super().takes(message) and message.payload.get("kind") == self.case_kind

    def mapped_request(self, message: Message, values: Mapping[str, Any]) -> Request:
        return self.json_request(message, {self.fields[key]: value for key, value in values.items()})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does with our signature header (used by tests and documented for them)."""
    return hmac.compare_digest(sign(secret, body), header)


# -- the registry ---------------------------------------------------------------------------

_REGISTRY: dict[str, type[Adapter]] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"adapter {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> type[Adapter]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no adapter named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    # Importing the modules runs their @register; done lazily so the registry module itself
    # has no import cycle with the adapters that use its base class.
    from . import dvcqg, notify, pakn, webhook  # noqa: F401


# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter: the n-th retry waits between half and all of
    min(cap, base * 2**(n-1)) seconds; after `max_attempts` tries the message is dead."""

    max_attempts: int = 8
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    # How long a claimed message is reserved for the worker that claimed it; past that a
    # crashed worker's messages are taken up again.
    lease_seconds: float = 300.0


@dataclass(frozen=True)
class AdaptersConfig:
    adapters: list[Adapter] = field(default_factory=list)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def load_config(source: str | Path | Mapping[str, Any] | None = None) -> AdaptersConfig:
    """Read and validate the configuration: a mapping, a path to a JSON file, or (None) the
    file named by $MOTCUA_ADAPTERS; nothing configured means no adapters."""
    if source is None:
        source = os.environ.get(CONFIG_ENV) or None
        if source is None:
            return AdaptersConfig()
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        try:
            raw = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError([f"{source}: cannot be read ({err.strerror})"]) from err
        except json.JSONDecodeError as err:
            raise ConfigError([f"{source}: not valid JSON (line {err.lineno}: {err.msg})"]) from err
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise ConfigError(["(top level): must be a JSON object"])
    for key in raw:
        if key not in ("adapters", "retry"):
            problems.append(f"{key}: unknown key (expected adapters, retry)")
    adapters = enabled_adapters(raw.get("adapters", {}), problems)
    retry = _retry_policy(raw.get("retry", {}), problems)
    if problems:
        raise ConfigError(problems)
    return AdaptersConfig(adapters, retry)


def enabled_adapters(section: Any, problems: list[str] | None = None) -> list[Adapter]:
    """The adapter instances of every plugin in `section` whose `enabled` is not false."""
    own = problems is None
    problems = [] if problems is None else problems
    result: list[Adapter] = []
    if not isinstance(section, Mapping):
        problems.append("adapters: must be an object keyed by adapter name")
        section = {}
    known = names()
    for name, raw in section.items():
        path = f"adapters.{name}"
        if name not in known:
            problems.append(f"{path}: unknown adapter (known: {', '.join(known)})")
            continue
        if not isinstance(raw, Mapping):
            problems.append(f"{path}: must be an object")
            continue
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(f"{path}.enabled: must be true or false")
            continue
        if enabled:
            result.extend(get(name).from_config(raw, path, problems))
    instances = [a.instance for a in result]
    for duplicate in sorted({i for i in instances if instances.count(i) > 1}):
        problems.append(f"adapters: two receivers are named {duplicate!r}")
    if own and problems:
        raise ConfigError(problems)
    return result


def _retry_policy(raw: Any, problems: list[str]) -> RetryPolicy:
    if not isinstance(raw, Mapping):
        problems.append("retry: must be an object")
        return RetryPolicy()
    reader = Reader(raw, "retry", problems)
    policy = RetryPolicy(
        max_attempts=int(reader.number("max_attempts", RetryPolicy.max_attempts, minimum=1, maximum=100)),
        base_seconds=reader.number("base_seconds", RetryPolicy.base_seconds, minimum=0.001),
        cap_seconds=reader.number("cap_seconds", RetryPolicy.cap_seconds, minimum=0.001),
        lease_seconds=reader.number("lease_seconds", RetryPolicy.lease_seconds, minimum=1),
    )
    reader.no_other_keys()
    return policy


class Reader:
    """Typed access to one configuration object that records problems under their full key."""

    def __init__(self, raw: Mapping[str, Any], path: str, problems: list[str]):
        self.raw, self.path, self.problems = raw, path, problems
        self.seen: set[str] = {"enabled"}

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _get(self, key: str, default: Any) -> Any:
        self.seen.add(key)
        return self.raw.get(key, default)

    def url(self, key: str = "url") -> str:
        value = self._get(key, None)
        if value is None:
            self.problems.append(f"{self._key(key)}: is required")
            return ""
        if not isinstance(value, str) or not _acceptable_url(value):
            self.problems.append(f"{self._key(key)}: must be an https:// or http://127.0.0.1 URL")
            return ""
        return value

    def secret(self, key: str = "secret") -> str:
        value = self._get(key, None)
        if value is None:
            self.problems.append(f"{self._key(key)}: is required")
            return ""
        # A short shared secret makes the HMAC guessable; 16 characters is the floor.
        if not isinstance(value, str) or len(value) < 16:
            self.problems.append(f"{self._key(key)}: must be a string of at least 16 characters")
            return ""
        return value

    def number(self, key: str, default: float, *, minimum: float, maximum: float | None = None) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.append(f"{self._key(key)}: must be a number")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.problems.append(f"{self._key(key)}: must be {bound}")
            return default
        return float(value)

    def string_list(self, key: str, default: list[str], allowed: Iterable[str] | None = None) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.problems.append(f"{self._key(key)}: must be a non-empty list of strings")
            return default
        if allowed is not None:
            allowed = set(allowed)
            for item in value:
                if item not in allowed:
                    self.problems.append(
                        f"{self._key(key)}: {item!r} is not one of {', '.join(sorted(allowed))}"
                    )
        return value

    def string_map(self, key: str, allowed: Iterable[str]) -> dict[str, str]:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            self.problems.append(f"{self._key(key)}: must be an object of strings")
            return {}
        allowed = set(allowed)
        result: dict[str, str] = {}
        for name, item in value.items():
            if name not in allowed:
                self.problems.append(f"{self._key(key)}.{name}: unknown field")
            elif not isinstance(item, str) or not item:
                self.problems.append(f"{self._key(key)}.{name}: must be a non-empty string")
            else:
                result[name] = item
        return result

    def objects(self, key: str) -> list[tuple[str, Mapping[str, Any]]]:
        value = self._get(key, None)
        if not isinstance(value, list) or not value:
            self.problems.append(f"{self._key(key)}: must be a non-empty list of objects")
            return []
        result = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                result.append((f"{self._key(key)}[{index}]", item))
            else:
                self.problems.append(f"{self._key(key)}[{index}]: must be an object")
        return result

    def name(self, key: str = "name") -> str:
        value = self._get(key, None)
        if not isinstance(value, str) or not value or len(value) > 40:
            self.problems.append(f"{self._key(key)}: must be a name of 1 to 40 characters")
            return ""
        return value

    def no_other_keys(self) -> None:
        for key in self.raw:
            if key not in self.seen:
                self.problems.append(f"{self._key(key)}: unknown key")


def _acceptable_url(value: str) -> bool:
    # Status data about citizens travels only encrypted, except to a receiver on this very
    # machine (a local relay, and the test portal).
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    if not parts.hostname or not port_ok:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname == "127.0.0.1")
