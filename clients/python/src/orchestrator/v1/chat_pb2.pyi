from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from orchestrator.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CACHE_MODE_BYPASS: CacheMode
CACHE_MODE_UNSPECIFIED: CacheMode
CACHE_MODE_USE: CacheMode
DESCRIPTOR: _descriptor.FileDescriptor
RESPONSE_FORMAT_TYPE_JSON_OBJECT: ResponseFormatType
RESPONSE_FORMAT_TYPE_JSON_SCHEMA: ResponseFormatType
RESPONSE_FORMAT_TYPE_TEXT: ResponseFormatType
RESPONSE_FORMAT_TYPE_UNSPECIFIED: ResponseFormatType
TOOL_CHOICE_MODE_AUTO: ToolChoiceMode
TOOL_CHOICE_MODE_NONE: ToolChoiceMode
TOOL_CHOICE_MODE_REQUIRED: ToolChoiceMode
TOOL_CHOICE_MODE_UNSPECIFIED: ToolChoiceMode

class BatchItem(_message.Message):
    __slots__ = ["request", "request_id"]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request: ChatRequest
    request_id: str
    def __init__(self, request_id: _Optional[str] = ..., request: _Optional[_Union[ChatRequest, _Mapping]] = ...) -> None: ...

class BatchItemResult(_message.Message):
    __slots__ = ["completed_at", "error", "index", "request_id", "response"]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    completed_at: _timestamp_pb2.Timestamp
    error: _status_pb2.Status
    index: int
    request_id: str
    response: ChatResponse
    def __init__(self, index: _Optional[int] = ..., request_id: _Optional[str] = ..., response: _Optional[_Union[ChatResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., completed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BatchRequest(_message.Message):
    __slots__ = ["concurrency", "items"]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    concurrency: int
    items: _containers.RepeatedCompositeFieldContainer[BatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[BatchItem, _Mapping]]] = ..., concurrency: _Optional[int] = ...) -> None: ...

class BatchResponse(_message.Message):
    __slots__ = ["item", "summary"]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    item: BatchItemResult
    summary: BatchSummary
    def __init__(self, item: _Optional[_Union[BatchItemResult, _Mapping]] = ..., summary: _Optional[_Union[BatchSummary, _Mapping]] = ...) -> None: ...

class BatchSummary(_message.Message):
    __slots__ = ["average_latency_ms", "cost_usd", "failed", "successful", "total", "total_latency_ms", "usage"]
    AVERAGE_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    average_latency_ms: float
    cost_usd: float
    failed: int
    successful: int
    total: int
    total_latency_ms: float
    usage: _common_pb2.Usage
    def __init__(self, total: _Optional[int] = ..., successful: _Optional[int] = ..., failed: _Optional[int] = ..., total_latency_ms: _Optional[float] = ..., average_latency_ms: _Optional[float] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class CacheInfo(_message.Message):
    __slots__ = ["age_seconds", "hit", "stale"]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HIT_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    age_seconds: float
    hit: bool
    stale: bool
    def __init__(self, hit: bool = ..., stale: bool = ..., age_seconds: _Optional[float] = ...) -> None: ...

class CacheOptions(_message.Message):
    __slots__ = ["allow_stale", "mode", "refuse_stale"]
    ALLOW_STALE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REFUSE_STALE_FIELD_NUMBER: _ClassVar[int]
    allow_stale: bool
    mode: CacheMode
    refuse_stale: bool
    def __init__(self, mode: _Optional[_Union[CacheMode, str]] = ..., allow_stale: bool = ..., refuse_stale: bool = ...) -> None: ...

class ChatRequest(_message.Message):
    __slots__ = ["cache", "max_tokens", "messages", "metadata", "model", "prompt", "response_format", "route", "sampling", "temperature", "tooling"]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOOLING_FIELD_NUMBER: _ClassVar[int]
    cache: CacheOptions
    max_tokens: int
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    metadata: _common_pb2.RequestMetadata
    model: str
    prompt: str
    response_format: ResponseFormat
    route: _common_pb2.RouteTarget
    sampling: _common_pb2.SamplingOptions
    temperature: float
    tooling: ToolOptions
    def __init__(self, model: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., prompt: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., route: _Optional[_Union[_common_pb2.RouteTarget, _Mapping]] = ..., cache: _Optional[_Union[CacheOptions, _Mapping]] = ..., sampling: _Optional[_Union[_common_pb2.SamplingOptions, _Mapping]] = ..., metadata: _Optional[_Union[_common_pb2.RequestMetadata, _Mapping]] = ..., tooling: _Optional[_Union[ToolOptions, _Mapping]] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ...) -> None: ...

class ChatResponse(_message.Message):
    __slots__ = ["attempts", "cache", "content", "cost_usd", "finish_reason", "latency_ms", "model", "provider", "refusal", "request_id", "route_decision", "simulated", "tool_calls", "usage"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_DECISION_FIELD_NUMBER: _ClassVar[int]
    SIMULATED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Attempt]
    cache: CacheInfo
    content: str
    cost_usd: float
    finish_reason: _common_pb2.FinishReason
    latency_ms: float
    model: str
    provider: str
    refusal: str
    request_id: str
    route_decision: _common_pb2.RouteDecision
    simulated: bool
    tool_calls: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolCall]
    usage: _common_pb2.Usage
    def __init__(self, content: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., latency_ms: _Optional[float] = ..., request_id: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[_common_pb2.Attempt, _Mapping]]] = ..., finish_reason: _Optional[_Union[_common_pb2.FinishReason, str]] = ..., route_decision: _Optional[_Union[_common_pb2.RouteDecision, _Mapping]] = ..., cache: _Optional[_Union[CacheInfo, _Mapping]] = ..., simulated: bool = ..., tool_calls: _Optional[_Iterable[_Union[_common_pb2.ToolCall, _Mapping]]] = ..., refusal: _Optional[str] = ...) -> None: ...

class FallbackRequest(_message.Message):
    __slots__ = ["attempt_timeout_ms", "default_message", "disable_default_message", "max_tokens", "messages", "metadata", "model", "models", "prompt", "refuse_stale", "response_format", "sampling", "temperature", "tooling"]
    ATTEMPT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DISABLE_DEFAULT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    REFUSE_STALE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOOLING_FIELD_NUMBER: _ClassVar[int]
    attempt_timeout_ms: int
    default_message: str
    disable_default_message: bool
    max_tokens: int
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    metadata: _common_pb2.RequestMetadata
    model: str
    models: _containers.RepeatedScalarFieldContainer[str]
    prompt: str
    refuse_stale: bool
    response_format: ResponseFormat
    sampling: _common_pb2.SamplingOptions
    temperature: float
    tooling: ToolOptions
    def __init__(self, model: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., prompt: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ..., attempt_timeout_ms: _Optional[int] = ..., default_message: _Optional[str] = ..., disable_default_message: bool = ..., sampling: _Optional[_Union[_common_pb2.SamplingOptions, _Mapping]] = ..., metadata: _Optional[_Union[_common_pb2.RequestMetadata, _Mapping]] = ..., refuse_stale: bool = ..., tooling: _Optional[_Union[ToolOptions, _Mapping]] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ...) -> None: ...

class FallbackResponse(_message.Message):
    __slots__ = ["attempts", "cache", "content", "cost_usd", "fallback_triggered", "finish_reason", "is_default_message", "latency_ms", "model", "model_used", "provider", "provider_used", "refusal", "request_id", "simulated", "tool_calls", "usage"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_USED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_USED_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIMULATED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Attempt]
    cache: CacheInfo
    content: str
    cost_usd: float
    fallback_triggered: bool
    finish_reason: _common_pb2.FinishReason
    is_default_message: bool
    latency_ms: float
    model: str
    model_used: str
    provider: str
    provider_used: str
    refusal: str
    request_id: str
    simulated: bool
    tool_calls: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolCall]
    usage: _common_pb2.Usage
    def __init__(self, content: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., latency_ms: _Optional[float] = ..., request_id: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[_common_pb2.Attempt, _Mapping]]] = ..., finish_reason: _Optional[_Union[_common_pb2.FinishReason, str]] = ..., provider_used: _Optional[str] = ..., model_used: _Optional[str] = ..., fallback_triggered: bool = ..., is_default_message: bool = ..., simulated: bool = ..., cache: _Optional[_Union[CacheInfo, _Mapping]] = ..., tool_calls: _Optional[_Iterable[_Union[_common_pb2.ToolCall, _Mapping]]] = ..., refusal: _Optional[str] = ...) -> None: ...

class JsonSchemaFormat(_message.Message):
    __slots__ = ["description", "name", "schema", "strict"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    description: str
    name: str
    schema: _struct_pb2.Struct
    strict: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., strict: bool = ...) -> None: ...

class RaceRequest(_message.Message):
    __slots__ = ["hedge_delay_ms", "max_tokens", "messages", "metadata", "model", "models", "prompt", "refuse_stale", "response_format", "sampling", "temperature", "tooling"]
    HEDGE_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    REFUSE_STALE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOOLING_FIELD_NUMBER: _ClassVar[int]
    hedge_delay_ms: int
    max_tokens: int
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    metadata: _common_pb2.RequestMetadata
    model: str
    models: _containers.RepeatedScalarFieldContainer[str]
    prompt: str
    refuse_stale: bool
    response_format: ResponseFormat
    sampling: _common_pb2.SamplingOptions
    temperature: float
    tooling: ToolOptions
    def __init__(self, model: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., prompt: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ..., hedge_delay_ms: _Optional[int] = ..., sampling: _Optional[_Union[_common_pb2.SamplingOptions, _Mapping]] = ..., metadata: _Optional[_Union[_common_pb2.RequestMetadata, _Mapping]] = ..., refuse_stale: bool = ..., tooling: _Optional[_Union[ToolOptions, _Mapping]] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ...) -> None: ...

class RaceResponse(_message.Message):
    __slots__ = ["attempts", "cache", "content", "cost_usd", "finish_reason", "latency_ms", "model", "provider", "refusal", "request_id", "simulated", "tool_calls", "usage"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIMULATED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Attempt]
    cache: CacheInfo
    content: str
    cost_usd: float
    finish_reason: _common_pb2.FinishReason
    latency_ms: float
    model: str
    provider: str
    refusal: str
    request_id: str
    simulated: bool
    tool_calls: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolCall]
    usage: _common_pb2.Usage
    def __init__(self, content: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., latency_ms: _Optional[float] = ..., request_id: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[_common_pb2.Attempt, _Mapping]]] = ..., finish_reason: _Optional[_Union[_common_pb2.FinishReason, str]] = ..., simulated: bool = ..., cache: _Optional[_Union[CacheInfo, _Mapping]] = ..., tool_calls: _Optional[_Iterable[_Union[_common_pb2.ToolCall, _Mapping]]] = ..., refusal: _Optional[str] = ...) -> None: ...

class ResponseFormat(_message.Message):
    __slots__ = ["json_schema", "type"]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    json_schema: JsonSchemaFormat
    type: ResponseFormatType
    def __init__(self, type: _Optional[_Union[ResponseFormatType, str]] = ..., json_schema: _Optional[_Union[JsonSchemaFormat, _Mapping]] = ...) -> None: ...

class StreamChatRequest(_message.Message):
    __slots__ = ["first_token_timeout_ms", "hedge_delay_ms", "inter_token_timeout_ms", "max_tokens", "messages", "metadata", "model", "models", "prompt", "refuse_stale", "response_format", "restart_on_failure", "route", "sampling", "strategy", "temperature", "tooling"]
    FIRST_TOKEN_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    HEDGE_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    INTER_TOKEN_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    REFUSE_STALE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    RESTART_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOOLING_FIELD_NUMBER: _ClassVar[int]
    first_token_timeout_ms: int
    hedge_delay_ms: int
    inter_token_timeout_ms: int
    max_tokens: int
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    metadata: _common_pb2.RequestMetadata
    model: str
    models: _containers.RepeatedScalarFieldContainer[str]
    prompt: str
    refuse_stale: bool
    response_format: ResponseFormat
    restart_on_failure: bool
    route: _common_pb2.RouteTarget
    sampling: _common_pb2.SamplingOptions
    strategy: _common_pb2.StreamStrategy
    temperature: float
    tooling: ToolOptions
    def __init__(self, model: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., prompt: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., strategy: _Optional[_Union[_common_pb2.StreamStrategy, str]] = ..., models: _Optional[_Iterable[str]] = ..., hedge_delay_ms: _Optional[int] = ..., restart_on_failure: bool = ..., first_token_timeout_ms: _Optional[int] = ..., inter_token_timeout_ms: _Optional[int] = ..., route: _Optional[_Union[_common_pb2.RouteTarget, _Mapping]] = ..., sampling: _Optional[_Union[_common_pb2.SamplingOptions, _Mapping]] = ..., metadata: _Optional[_Union[_common_pb2.RequestMetadata, _Mapping]] = ..., refuse_stale: bool = ..., tooling: _Optional[_Union[ToolOptions, _Mapping]] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ...) -> None: ...

class StreamChatResponse(_message.Message):
    __slots__ = ["completed", "delta", "restarted", "started"]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    RESTARTED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    completed: StreamCompleted
    delta: StreamDelta
    restarted: StreamRestarted
    started: StreamStarted
    def __init__(self, started: _Optional[_Union[StreamStarted, _Mapping]] = ..., delta: _Optional[_Union[StreamDelta, _Mapping]] = ..., completed: _Optional[_Union[StreamCompleted, _Mapping]] = ..., restarted: _Optional[_Union[StreamRestarted, _Mapping]] = ...) -> None: ...

class StreamCompleted(_message.Message):
    __slots__ = ["attempts", "cost_usd", "fallback_triggered", "finish_reason", "latency_ms", "model", "provider", "request_id", "route_decision", "time_to_first_token_ms", "tool_calls", "usage"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_DECISION_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_MS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Attempt]
    cost_usd: float
    fallback_triggered: bool
    finish_reason: _common_pb2.FinishReason
    latency_ms: float
    model: str
    provider: str
    request_id: str
    route_decision: _common_pb2.RouteDecision
    time_to_first_token_ms: float
    tool_calls: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolCall]
    usage: _common_pb2.Usage
    def __init__(self, finish_reason: _Optional[_Union[_common_pb2.FinishReason, str]] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., latency_ms: _Optional[float] = ..., time_to_first_token_ms: _Optional[float] = ..., attempts: _Optional[_Iterable[_Union[_common_pb2.Attempt, _Mapping]]] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., fallback_triggered: bool = ..., route_decision: _Optional[_Union[_common_pb2.RouteDecision, _Mapping]] = ..., request_id: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[_common_pb2.ToolCall, _Mapping]]] = ...) -> None: ...

class StreamDelta(_message.Message):
    __slots__ = ["content", "refusal", "tool_calls"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    content: str
    refusal: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCallDelta]
    def __init__(self, content: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCallDelta, _Mapping]]] = ..., refusal: _Optional[str] = ...) -> None: ...

class StreamRestarted(_message.Message):
    __slots__ = ["failed_model", "next_model", "next_provider", "reason"]
    FAILED_MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    failed_model: str
    next_model: str
    next_provider: str
    reason: str
    def __init__(self, failed_model: _Optional[str] = ..., reason: _Optional[str] = ..., next_model: _Optional[str] = ..., next_provider: _Optional[str] = ...) -> None: ...

class StreamStarted(_message.Message):
    __slots__ = ["cache", "model", "provider", "request_id", "simulated"]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIMULATED_FIELD_NUMBER: _ClassVar[int]
    cache: CacheInfo
    model: str
    provider: str
    request_id: str
    simulated: bool
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., simulated: bool = ..., cache: _Optional[_Union[CacheInfo, _Mapping]] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ["cache", "description", "name", "parameters", "strict"]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    cache: _common_pb2.PromptCache
    description: str
    name: str
    parameters: _struct_pb2.Struct
    strict: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., strict: bool = ..., cache: _Optional[_Union[_common_pb2.PromptCache, _Mapping]] = ...) -> None: ...

class ToolCallDelta(_message.Message):
    __slots__ = ["arguments", "id", "index", "name"]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    arguments: str
    id: str
    index: int
    name: str
    def __init__(self, index: _Optional[int] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class ToolChoice(_message.Message):
    __slots__ = ["function", "mode"]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    function: str
    mode: ToolChoiceMode
    def __init__(self, mode: _Optional[_Union[ToolChoiceMode, str]] = ..., function: _Optional[str] = ...) -> None: ...

class ToolOptions(_message.Message):
    __slots__ = ["parallel_tool_calls", "tool_choice", "tools"]
    PARALLEL_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    parallel_tool_calls: bool
    tool_choice: ToolChoice
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    def __init__(self, tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., tool_choice: _Optional[_Union[ToolChoice, _Mapping]] = ..., parallel_tool_calls: bool = ...) -> None: ...

class CacheMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ToolChoiceMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ResponseFormatType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
