from google.rpc import code_pb2 as _code_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ATTEMPT_OUTCOME_CANCELLED: AttemptOutcome
ATTEMPT_OUTCOME_FAILURE: AttemptOutcome
ATTEMPT_OUTCOME_SKIPPED: AttemptOutcome
ATTEMPT_OUTCOME_SUCCESS: AttemptOutcome
ATTEMPT_OUTCOME_TIMEOUT: AttemptOutcome
ATTEMPT_OUTCOME_UNSPECIFIED: AttemptOutcome
CIRCUIT_STATE_CLOSED: CircuitState
CIRCUIT_STATE_HALF_OPEN: CircuitState
CIRCUIT_STATE_OPEN: CircuitState
CIRCUIT_STATE_UNSPECIFIED: CircuitState
COMPLEXITY_COMPLEX: Complexity
COMPLEXITY_MODERATE: Complexity
COMPLEXITY_SIMPLE: Complexity
COMPLEXITY_UNSPECIFIED: Complexity
DESCRIPTOR: _descriptor.FileDescriptor
FINISH_REASON_CONTENT_FILTER: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_STOP: FinishReason
FINISH_REASON_TOOL_CALLS: FinishReason
FINISH_REASON_UNSPECIFIED: FinishReason
PROMPT_CACHE_TTL_FIVE_MINUTES: PromptCacheTtl
PROMPT_CACHE_TTL_ONE_HOUR: PromptCacheTtl
PROMPT_CACHE_TTL_UNSPECIFIED: PromptCacheTtl
REASONING_EFFORT_HIGH: ReasoningEffort
REASONING_EFFORT_LOW: ReasoningEffort
REASONING_EFFORT_MAX: ReasoningEffort
REASONING_EFFORT_MEDIUM: ReasoningEffort
REASONING_EFFORT_MINIMAL: ReasoningEffort
REASONING_EFFORT_NONE: ReasoningEffort
REASONING_EFFORT_UNSPECIFIED: ReasoningEffort
REASONING_EFFORT_XHIGH: ReasoningEffort
ROLE_ASSISTANT: Role
ROLE_DEVELOPER: Role
ROLE_SYSTEM: Role
ROLE_TOOL: Role
ROLE_UNSPECIFIED: Role
ROLE_USER: Role
ROUTING_PROFILE_BALANCED: RoutingProfile
ROUTING_PROFILE_BUDGET: RoutingProfile
ROUTING_PROFILE_LONG_CONTEXT: RoutingProfile
ROUTING_PROFILE_QUALITY: RoutingProfile
ROUTING_PROFILE_SPEED: RoutingProfile
ROUTING_PROFILE_UNSPECIFIED: RoutingProfile
STREAM_STRATEGY_FALLBACK: StreamStrategy
STREAM_STRATEGY_RACE: StreamStrategy
STREAM_STRATEGY_SINGLE: StreamStrategy
STREAM_STRATEGY_UNSPECIFIED: StreamStrategy

class Attempt(_message.Message):
    __slots__ = ["backoff_ms", "code", "cost_usd", "latency_ms", "message", "model", "outcome", "provider", "reason", "retry", "upstream_request_id", "usage", "usage_estimated"]
    BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    backoff_ms: float
    code: _code_pb2.Code
    cost_usd: float
    latency_ms: float
    message: str
    model: str
    outcome: AttemptOutcome
    provider: str
    reason: str
    retry: int
    upstream_request_id: str
    usage: Usage
    usage_estimated: bool
    def __init__(self, model: _Optional[str] = ..., provider: _Optional[str] = ..., outcome: _Optional[_Union[AttemptOutcome, str]] = ..., code: _Optional[_Union[_code_pb2.Code, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., latency_ms: _Optional[float] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., retry: _Optional[int] = ..., backoff_ms: _Optional[float] = ..., usage_estimated: bool = ..., upstream_request_id: _Optional[str] = ...) -> None: ...

class ContentPart(_message.Message):
    __slots__ = ["cache", "image", "text"]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    cache: PromptCache
    image: ImagePart
    text: str
    def __init__(self, text: _Optional[str] = ..., image: _Optional[_Union[ImagePart, _Mapping]] = ..., cache: _Optional[_Union[PromptCache, _Mapping]] = ...) -> None: ...

class ImagePart(_message.Message):
    __slots__ = ["data", "detail", "media_type", "url"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    detail: str
    media_type: str
    url: str
    def __init__(self, url: _Optional[str] = ..., data: _Optional[bytes] = ..., media_type: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ["cache", "content", "parts", "role", "tool_call_id", "tool_calls"]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    cache: PromptCache
    content: str
    parts: _containers.RepeatedCompositeFieldContainer[ContentPart]
    role: Role
    tool_call_id: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., content: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[ContentPart, _Mapping]]] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., tool_call_id: _Optional[str] = ..., cache: _Optional[_Union[PromptCache, _Mapping]] = ...) -> None: ...

class ModelScore(_message.Message):
    __slots__ = ["context", "context_headroom", "cost", "eligible", "estimated_cost_usd", "excluded_reason", "expected_latency_ms", "expected_ttft_ms", "latency", "model", "provider", "quality", "reliability", "score", "ttft"]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_HEADROOM_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_USD_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    RELIABILITY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TTFT_FIELD_NUMBER: _ClassVar[int]
    context: float
    context_headroom: float
    cost: float
    eligible: bool
    estimated_cost_usd: float
    excluded_reason: str
    expected_latency_ms: float
    expected_ttft_ms: float
    latency: float
    model: str
    provider: str
    quality: float
    reliability: float
    score: float
    ttft: float
    def __init__(self, model: _Optional[str] = ..., provider: _Optional[str] = ..., score: _Optional[float] = ..., quality: _Optional[float] = ..., latency: _Optional[float] = ..., cost: _Optional[float] = ..., reliability: _Optional[float] = ..., estimated_cost_usd: _Optional[float] = ..., expected_latency_ms: _Optional[float] = ..., eligible: bool = ..., excluded_reason: _Optional[str] = ..., ttft: _Optional[float] = ..., context: _Optional[float] = ..., expected_ttft_ms: _Optional[float] = ..., context_headroom: _Optional[float] = ...) -> None: ...

class PromptCache(_message.Message):
    __slots__ = ["ttl"]
    TTL_FIELD_NUMBER: _ClassVar[int]
    ttl: PromptCacheTtl
    def __init__(self, ttl: _Optional[_Union[PromptCacheTtl, str]] = ...) -> None: ...

class RequestMetadata(_message.Message):
    __slots__ = ["tags"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.ScalarMap[str, str]
    def __init__(self, tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RouteDecision(_message.Message):
    __slots__ = ["chosen_model", "complexity", "profile", "prompt_tokens", "ranking"]
    CHOSEN_MODEL_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RANKING_FIELD_NUMBER: _ClassVar[int]
    chosen_model: str
    complexity: Complexity
    profile: RoutingProfile
    prompt_tokens: int
    ranking: _containers.RepeatedCompositeFieldContainer[ModelScore]
    def __init__(self, profile: _Optional[_Union[RoutingProfile, str]] = ..., complexity: _Optional[_Union[Complexity, str]] = ..., prompt_tokens: _Optional[int] = ..., chosen_model: _Optional[str] = ..., ranking: _Optional[_Iterable[_Union[ModelScore, _Mapping]]] = ...) -> None: ...

class RouteTarget(_message.Message):
    __slots__ = ["candidates", "profile"]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedScalarFieldContainer[str]
    profile: RoutingProfile
    def __init__(self, profile: _Optional[_Union[RoutingProfile, str]] = ..., candidates: _Optional[_Iterable[str]] = ...) -> None: ...

class SamplingOptions(_message.Message):
    __slots__ = ["frequency_penalty", "presence_penalty", "reasoning_effort", "seed", "stop", "top_p", "user"]
    FREQUENCY_PENALTY_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_PENALTY_FIELD_NUMBER: _ClassVar[int]
    REASONING_EFFORT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    frequency_penalty: float
    presence_penalty: float
    reasoning_effort: ReasoningEffort
    seed: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    top_p: float
    user: str
    def __init__(self, top_p: _Optional[float] = ..., stop: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., presence_penalty: _Optional[float] = ..., frequency_penalty: _Optional[float] = ..., user: _Optional[str] = ..., reasoning_effort: _Optional[_Union[ReasoningEffort, str]] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ["arguments", "id", "name"]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    arguments: str
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ["cache_write_tokens", "cached_tokens", "completion_tokens", "prompt_tokens", "reasoning_tokens", "total_tokens"]
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    cache_write_tokens: int
    cached_tokens: int
    completion_tokens: int
    prompt_tokens: int
    reasoning_tokens: int
    total_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cached_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ...) -> None: ...

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PromptCacheTtl(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class AttemptOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CircuitState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RoutingProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Complexity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class StreamStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ReasoningEffort(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
