"""Amazon Bedrock as a note writer, through the Converse API (boto3 `bedrock-runtime`).

Settings come from explicit arguments first, then `FEATUREKIT_BEDROCK_*` environment variables, then the usual AWS
ones (`AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_PROFILE`). The retry mode is set explicitly because botocore's
default differs between versions; `max_attempts` counts requests (botocore's `total_max_attempts`), not retries.

Every API failure becomes one `LLMError` with a `code` (Bedrock's error type) and a `hint` saying what to do.
Stop reasons are reported, not judged here: `notes.write_note` decides that `guardrail_intervened` or
`max_tokens` make a note unusable, because only it holds the features to hand back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import config
from ..catalog.declarations import Guardrail, Inference
from ..config import BedrockSettings
from ..engines import redact
from ..errors import ConfigError, LLMError
from .prompts import RenderedPrompt
from .providers import Completion

#: Prefixes of cross-region inference profile IDs (`us.amazon.nova-lite-v1:0`).
PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.", "ca.", "jp.", "au.")

#: Converse usage field → the key we record (only keys present in the response are recorded).
USAGE_KEYS = {
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "totalTokens": "total_tokens",
    "cacheReadInputTokens": "cache_read_tokens",
    "cacheWriteInputTokens": "cache_write_tokens",
}


_SESSIONS: dict[str | None, Any] = {}
_SESSIONS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Turn:
    """One assistant turn of a Converse call: its content blocks plus what the call cost and why it stopped."""

    content: tuple[Mapping[str, Any], ...]
    completion: Completion
    tool_uses: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def message(self) -> dict[str, Any]:
        return {"role": "assistant", "content": [dict(block) for block in self.content]}


def inference_config(inference: Inference) -> dict[str, Any]:
    config: dict[str, Any] = {
        "maxTokens": inference.max_tokens,
        "temperature": inference.temperature,
        "topP": inference.top_p,
    }
    if inference.stop_sequences:
        config["stopSequences"] = list(inference.stop_sequences)
    return config


def guardrail_config(guardrail: Guardrail, *, streaming: bool = False) -> dict[str, Any]:
    config = {
        "guardrailIdentifier": guardrail.identifier,
        "guardrailVersion": guardrail.version,
        "trace": guardrail.trace,
    }
    if streaming:
        # Streaming guardrails check chunks as they go; "async" would let unchecked text reach the user first.
        config["streamProcessingMode"] = "sync"
    return config


def parse_usage(raw: Mapping[str, Any] | None) -> dict[str, int]:
    """Token counts we recognise, under our names; an absent or partial `usage` yields what is there."""
    if not raw:
        return {}
    return {ours: int(raw[theirs]) for theirs, ours in USAGE_KEYS.items() if isinstance(raw.get(theirs), int)}


class BedrockProvider:
    """Writes notes with a Bedrock model through Converse (or ConverseStream when `stream=True`)."""

    name = "bedrock"

    def __init__(
        self,
        settings: BedrockSettings | None = None,
        *,
        stream: bool = False,
        on_text: Callable[[str], None] | None = None,
        client: Any = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            resolved = config.resolve("bedrock", overrides)
            assert isinstance(resolved, BedrockSettings)
            settings = resolved
        elif overrides:
            settings = BedrockSettings.model_validate({**settings.model_dump(), **overrides})
        self.settings = settings
        self.stream, self.on_text = stream, on_text
        self._client = client
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.settings.model or "(declared by the prompt)"

    def cache_key(self) -> tuple[Any, ...]:
        """What, besides the prompt, changes the note: where it is sent and which model writes it."""
        s = self.settings
        return (self.name, s.region, s.endpoint_url, s.model)

    @property
    def client(self) -> Any:
        # Created on first use, so a provider can be configured (and the CLI can start) without AWS settings.
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise ConfigError("bedrock", "boto3 is not installed; pip install 'featurekit[bedrock]'") from None
        redact.install()
        s = self.settings
        config = Config(
            region_name=s.region,
            retries={"mode": "standard", "total_max_attempts": s.max_attempts},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            user_agent_extra="featurekit",
        )
        with _SESSIONS_LOCK:
            # One session per profile: a new session re-reads botocore's service models (~0.3 s per client).
            # Sessions are not thread-safe, so clients are created under the lock; clients themselves are.
            session = _SESSIONS.get(s.profile)
            if session is None:
                try:
                    session = boto3.Session(profile_name=s.profile) if s.profile else boto3.Session()
                except Exception as exc:  # botocore.exceptions.ProfileNotFound; any session error is config
                    raise ConfigError("bedrock profile", str(exc)) from None
                _SESSIONS[s.profile] = session
            return session.client("bedrock-runtime", endpoint_url=s.endpoint_url, config=config)

    # -- the Provider protocol -------------------------------------------------------------------------------

    def complete(self, prompt: RenderedPrompt) -> Completion:
        messages = [{"role": "user", "content": [{"text": prompt.text}]}]
        model = self.settings.model or prompt.model
        if self.stream:
            return self.converse_stream(
                model, prompt.system, messages, prompt.inference, prompt.guardrail, on_text=self.on_text
            )
        return self.converse(model, prompt.system, messages, prompt.inference, prompt.guardrail).completion

    # -- Converse ----------------------------------------------------------------------------------------------

    def request(
        self,
        model: str,
        system: str,
        messages: Sequence[Mapping[str, Any]],
        inference: Inference,
        guardrail: Guardrail | None = None,
        tool_config: Mapping[str, Any] | None = None,
        *,
        streaming: bool = False,
    ) -> dict[str, Any]:
        """The Converse request body (as boto3 keyword arguments)."""
        body: dict[str, Any] = {
            "modelId": model,
            "system": [{"text": system}],
            "messages": [dict(m) for m in messages],
            "inferenceConfig": inference_config(inference),
        }
        if guardrail is not None:
            body["guardrailConfig"] = guardrail_config(guardrail, streaming=streaming)
        if tool_config is not None:
            body["toolConfig"] = dict(tool_config)
        return body

    def converse(
        self,
        model: str,
        system: str,
        messages: Sequence[Mapping[str, Any]],
        inference: Inference,
        guardrail: Guardrail | None = None,
        tool_config: Mapping[str, Any] | None = None,
    ) -> Turn:
        """One Converse call; the assistant's content blocks (text and tool uses) and a Completion."""
        body = self.request(model, system, messages, inference, guardrail, tool_config)
        start = time.perf_counter()
        response = self._call("converse", model, body)
        elapsed = (time.perf_counter() - start) * 1000
        content = _content(response)
        text = "".join(block["text"] for block in content if isinstance(block.get("text"), str))
        meta = response.get("ResponseMetadata") or {}
        completion = Completion(
            text=text.strip(),
            provider=self.name,
            model=model,
            stop_reason=response.get("stopReason") or "unknown",
            usage=parse_usage(response.get("usage")),
            latency_ms=_latency(response.get("metrics")),
            elapsed_ms=elapsed,
            request_id=meta.get("RequestId"),
            attempts=_attempts(meta),
            trace=response.get("trace"),
        )
        tool_uses = tuple(block["toolUse"] for block in content if isinstance(block.get("toolUse"), Mapping))
        return Turn(content, completion, tool_uses)

    def converse_stream(
        self,
        model: str,
        system: str,
        messages: Sequence[Mapping[str, Any]],
        inference: Inference,
        guardrail: Guardrail | None = None,
        *,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        """ConverseStream: each text chunk goes to `on_text` as it arrives; the full Completion is returned."""
        chunks: list[str] = []
        final: dict[str, Any] = {}
        start = time.perf_counter()
        for chunk in self.iter_stream(model, system, messages, inference, guardrail, final=final):
            chunks.append(chunk)
            if on_text is not None:
                on_text(chunk)
        return Completion(
            text="".join(chunks).strip(),
            provider=self.name,
            model=model,
            stop_reason=final.get("stopReason") or "unknown",
            usage=parse_usage(final.get("usage")),
            latency_ms=_latency(final.get("metrics")),
            elapsed_ms=(time.perf_counter() - start) * 1000,
            request_id=final.get("request_id"),
            attempts=final.get("attempts"),
            trace=final.get("trace"),
        )

    def iter_stream(
        self,
        model: str,
        system: str,
        messages: Sequence[Mapping[str, Any]],
        inference: Inference,
        guardrail: Guardrail | None = None,
        *,
        final: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """Yield text chunks of a ConverseStream call; stop reason, usage and metrics are put into `final`."""
        final = {} if final is None else final
        body = self.request(model, system, messages, inference, guardrail, streaming=True)
        response = self._call("converse_stream", model, body)
        meta = response.get("ResponseMetadata") or {}
        final["request_id"], final["attempts"] = meta.get("RequestId"), _attempts(meta)
        try:
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    text = (event["contentBlockDelta"].get("delta") or {}).get("text")
                    if text:
                        yield text
                elif "messageStop" in event:
                    final["stopReason"] = event["messageStop"].get("stopReason")
                elif "metadata" in event:
                    final.update({k: v for k, v in event["metadata"].items() if k in ("usage", "metrics", "trace")})
        except Exception as exc:
            # Errors inside the stream (throttling, validation) arrive as exception events, after the 200.
            raise self._error(exc, model, attempts=1) from None  # botocore never retries inside a stream

    def _call(self, operation: str, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return getattr(self.client, operation)(**body)
        except LLMError:
            raise
        except ConfigError:
            raise
        except Exception as exc:
            raise self._error(exc, model) from None

    # -- errors ------------------------------------------------------------------------------------------------

    def _error(self, exc: Exception, model: str, *, attempts: int | None = None) -> LLMError:
        """One LLMError per failure, with Bedrock's error type as `code` and what to do as `hint`."""
        from botocore import exceptions as bx

        region, attempts = self.settings.region, attempts or self.settings.max_attempts
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error") or {}
            code = str(error.get("Code") or "ClientError")
            # Errors inside a stream name the union member (throttlingException); API errors the type.
            code = code[:1].upper() + code[1:]
            message = str(error.get("Message") or exc)
            sent = _attempts(exc.response.get("ResponseMetadata") or {}) or attempts
            return LLMError(f"Bedrock {code}: {message}", code=code, hint=self._hint(code, message, model, sent))
        if isinstance(exc, bx.EventStreamError):  # pragma: no cover - subclass of ClientError, handled above
            return LLMError(f"Bedrock stream error: {exc}", code="EventStreamError")
        if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError)):
            which = "read" if isinstance(exc, bx.ReadTimeoutError) else "connect"
            limit = self.settings.read_timeout if which == "read" else self.settings.connect_timeout
            return LLMError(
                f"Bedrock did not answer within the {which} timeout ({limit:g} s)",
                code="Timeout",
                hint=f"raise FEATUREKIT_BEDROCK_{which.upper()}_TIMEOUT or lower max_tokens in the prompt",
            )
        if isinstance(exc, bx.EndpointConnectionError):
            return LLMError(
                f"cannot reach Bedrock at {exc.kwargs.get('endpoint_url', '?')}",
                code="EndpointConnectionError",
                hint=f"check the region ({region}) and endpoint URL, and the network",
            )
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.ProfileNotFound)):
            return LLMError(
                f"no usable AWS credentials: {exc}",
                code="NoCredentials",
                hint="set AWS_PROFILE (or --profile) or AWS access keys; the offline provider needs none",
            )
        if isinstance(exc, bx.BotoCoreError):
            return LLMError(f"Bedrock call failed: {exc}", code=type(exc).__name__)
        # Anything else came from reading a reply of an unexpected shape (botocore's parser fails with plain
        # AttributeError/TypeError there): the answer is unusable, not a crash.
        return LLMError(
            f"Bedrock's reply could not be read ({type(exc).__name__}: {exc})",
            code="unparseable",
            hint="retry; if it persists, check --endpoint-url points at Bedrock, or use --provider offline",
        )

    def _hint(self, code: str, message: str, model: str, attempts: int) -> str:
        region = self.settings.region
        lowered = message.lower()
        if code in ("ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"):
            return (
                f"throttled after {attempts} attempts: retry later, lower concurrency, raise "
                f"FEATUREKIT_BEDROCK_MAX_ATTEMPTS, or use a cross-region inference profile such as "
                f"{_profile_id(model, region)}"
            )
        if code == "AccessDeniedException":
            if "model" in lowered and ("access" in lowered or "enable" in lowered or "subscri" in lowered):
                return f"enable model access for {_base_model(model)} in {region} (Bedrock console → Model access)"
            return (
                f"allow bedrock:InvokeModel on the model or inference profile ARN for {model} in {region}, "
                f"and enable model access for {_base_model(model)} there"
            )
        if code == "ValidationException":
            if "inference profile" in lowered or "on-demand throughput" in lowered:
                return f"use an inference profile ID such as {_profile_id(model, region)}"
            if "model identifier" in lowered or "model id" in lowered:
                return (
                    f"{model} is not valid in {region}: check the model ID, or use an inference profile ID "
                    f"such as {_profile_id(model, region)}"
                )
            return "the request was rejected; check the prompt's inference settings and guardrail"
        if code == "ResourceNotFoundException":
            return f"{model} (or the guardrail) does not exist in {region}; check the ID and the region"
        if code in ("ModelTimeoutException", "ModelNotReadyException", "ServiceUnavailableException"):
            return "the model was not ready or too slow; retry later or lower max_tokens"
        if code in ("InternalServerException", "ModelErrorException", "ModelStreamErrorException"):
            return "Bedrock failed on its side; retry later (the features are unaffected)"
        return "see the AWS message above"


def _base_model(model: str) -> str:
    for prefix in PROFILE_PREFIXES:
        if model.startswith(prefix):
            return model[len(prefix) :]
    return model


def _profile_id(model: str, region: str) -> str:
    """The cross-region inference profile ID for a model in a region (us.… for us-*, eu.… for eu-*, …)."""
    base = _base_model(model)
    geo = {"us": "us", "eu": "eu", "ap": "apac", "ca": "us"}.get(region.split("-")[0], "us")
    if region.startswith("us-gov"):
        geo = "us-gov"
    return f"{geo}.{base}"


def _content(response: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """The assistant's content blocks; a reply without `output`, or of another shape, has none (an empty note)."""
    output = response.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, (list, tuple)):
        return ()
    return tuple(block for block in content if isinstance(block, Mapping))


def _latency(metrics: Mapping[str, Any] | None) -> float | None:
    value = (metrics or {}).get("latencyMs")
    return float(value) if isinstance(value, (int, float)) else None


def _attempts(meta: Mapping[str, Any]) -> int | None:
    retries = meta.get("RetryAttempts")
    return retries + 1 if isinstance(retries, int) else None
