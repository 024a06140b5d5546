from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import code_pb2 as _code_pb2
from orchestrator.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
USAGE_GROUP_DAY: UsageGroup
USAGE_GROUP_HOUR: UsageGroup
USAGE_GROUP_KEY: UsageGroup
USAGE_GROUP_METHOD: UsageGroup
USAGE_GROUP_MODEL: UsageGroup
USAGE_GROUP_PROVIDER: UsageGroup
USAGE_GROUP_UNSPECIFIED: UsageGroup

class GetRoutingAnalyticsRequest(_message.Message):
    __slots__ = ["filter"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: UsageFilter
    def __init__(self, filter: _Optional[_Union[UsageFilter, _Mapping]] = ...) -> None: ...

class GetRoutingAnalyticsResponse(_message.Message):
    __slots__ = ["profiles"]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[RoutingProfileStats]
    def __init__(self, profiles: _Optional[_Iterable[_Union[RoutingProfileStats, _Mapping]]] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ["filter", "group_by", "page_size", "page_token"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: UsageFilter
    group_by: _containers.RepeatedScalarFieldContainer[UsageGroup]
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[UsageFilter, _Mapping]] = ..., group_by: _Optional[_Iterable[_Union[UsageGroup, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ["next_page_token", "rows"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LatencyPercentiles(_message.Message):
    __slots__ = ["p50_ms", "p95_ms", "p99_ms"]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    def __init__(self, p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ...) -> None: ...

class LedgerAttempt(_message.Message):
    __slots__ = ["code", "cost_usd", "latency_ms", "lost", "model", "outcome", "provider", "raced", "reason", "retry", "usage", "usage_estimated"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    RACED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    USAGE_ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    code: _code_pb2.Code
    cost_usd: float
    latency_ms: float
    lost: bool
    model: str
    outcome: _common_pb2.AttemptOutcome
    provider: str
    raced: bool
    reason: str
    retry: int
    usage: _common_pb2.Usage
    usage_estimated: bool
    def __init__(self, model: _Optional[str] = ..., provider: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.AttemptOutcome, str]] = ..., code: _Optional[_Union[_code_pb2.Code, str]] = ..., reason: _Optional[str] = ..., latency_ms: _Optional[float] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., usage_estimated: bool = ..., cost_usd: _Optional[float] = ..., retry: _Optional[int] = ..., raced: bool = ..., lost: bool = ...) -> None: ...

class LedgerCall(_message.Message):
    __slots__ = ["answer", "attempts", "cache_hit", "cache_stale", "code", "cost_saved_usd", "cost_usd", "fallback_triggered", "is_default_message", "item_decisions", "key_name", "latency_ms", "method", "model", "prompt", "prompt_sha256", "protocol", "provider", "reason", "request_id", "requested_model", "route_decision", "time", "time_to_first_token_ms", "usage", "usage_estimated"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    CACHE_STALE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COST_SAVED_USD_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ITEM_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SHA256_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_DECISION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    answer: str
    attempts: _containers.RepeatedCompositeFieldContainer[LedgerAttempt]
    cache_hit: bool
    cache_stale: bool
    code: _code_pb2.Code
    cost_saved_usd: float
    cost_usd: float
    fallback_triggered: bool
    is_default_message: bool
    item_decisions: _containers.RepeatedCompositeFieldContainer[LedgerItemDecision]
    key_name: str
    latency_ms: float
    method: str
    model: str
    prompt: str
    prompt_sha256: str
    protocol: str
    provider: str
    reason: str
    request_id: str
    requested_model: str
    route_decision: _common_pb2.RouteDecision
    time: _timestamp_pb2.Timestamp
    time_to_first_token_ms: float
    usage: _common_pb2.Usage
    usage_estimated: bool
    def __init__(self, request_id: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., method: _Optional[str] = ..., protocol: _Optional[str] = ..., key_name: _Optional[str] = ..., requested_model: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., code: _Optional[_Union[_code_pb2.Code, str]] = ..., reason: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., usage_estimated: bool = ..., cost_usd: _Optional[float] = ..., cost_saved_usd: _Optional[float] = ..., latency_ms: _Optional[float] = ..., time_to_first_token_ms: _Optional[float] = ..., fallback_triggered: bool = ..., is_default_message: bool = ..., cache_hit: bool = ..., cache_stale: bool = ..., attempts: _Optional[_Iterable[_Union[LedgerAttempt, _Mapping]]] = ..., route_decision: _Optional[_Union[_common_pb2.RouteDecision, _Mapping]] = ..., prompt_sha256: _Optional[str] = ..., prompt: _Optional[str] = ..., answer: _Optional[str] = ..., item_decisions: _Optional[_Iterable[_Union[LedgerItemDecision, _Mapping]]] = ...) -> None: ...

class LedgerItemDecision(_message.Message):
    __slots__ = ["fallback_triggered", "index", "latency_ms", "model", "route_decision", "successful"]
    FALLBACK_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ROUTE_DECISION_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    fallback_triggered: bool
    index: int
    latency_ms: float
    model: str
    route_decision: _common_pb2.RouteDecision
    successful: bool
    def __init__(self, index: _Optional[int] = ..., route_decision: _Optional[_Union[_common_pb2.RouteDecision, _Mapping]] = ..., model: _Optional[str] = ..., successful: bool = ..., latency_ms: _Optional[float] = ..., fallback_triggered: bool = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ["filter", "page_size", "page_token", "request_id", "successful"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    filter: UsageFilter
    page_size: int
    page_token: str
    request_id: str
    successful: bool
    def __init__(self, filter: _Optional[_Union[UsageFilter, _Mapping]] = ..., request_id: _Optional[str] = ..., successful: bool = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCallsResponse(_message.Message):
    __slots__ = ["calls", "next_page_token"]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[LedgerCall]
    next_page_token: str
    def __init__(self, calls: _Optional[_Iterable[_Union[LedgerCall, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RoutedModelStats(_message.Message):
    __slots__ = ["chosen", "chosen_share", "fallback_rate", "latency", "model", "success_rate"]
    CHOSEN_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_SHARE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_RATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    chosen: int
    chosen_share: float
    fallback_rate: float
    latency: LatencyPercentiles
    model: str
    success_rate: float
    def __init__(self, model: _Optional[str] = ..., chosen: _Optional[int] = ..., chosen_share: _Optional[float] = ..., success_rate: _Optional[float] = ..., latency: _Optional[_Union[LatencyPercentiles, _Mapping]] = ..., fallback_rate: _Optional[float] = ...) -> None: ...

class RoutingProfileStats(_message.Message):
    __slots__ = ["decisions", "models", "profile"]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    decisions: int
    models: _containers.RepeatedCompositeFieldContainer[RoutedModelStats]
    profile: _common_pb2.RoutingProfile
    def __init__(self, profile: _Optional[_Union[_common_pb2.RoutingProfile, str]] = ..., decisions: _Optional[int] = ..., models: _Optional[_Iterable[_Union[RoutedModelStats, _Mapping]]] = ...) -> None: ...

class UsageFilter(_message.Message):
    __slots__ = ["end_time", "key_name", "method", "model", "provider", "start_time"]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    end_time: _timestamp_pb2.Timestamp
    key_name: str
    method: str
    model: str
    provider: str
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., key_name: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., method: _Optional[str] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ["cache_hit_rate", "cache_write_tokens", "cached_tokens", "completion_tokens", "cost_saved_usd", "cost_usd", "errors_by_code", "fallback_rate", "key_name", "latency", "method", "model", "period_start", "prompt_tokens", "provider", "reasoning_tokens", "requests", "successful", "total_tokens"]
    class ErrorsByCodeEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_SAVED_USD_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    ERRORS_BY_CODE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_RATE_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    cache_hit_rate: float
    cache_write_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost_saved_usd: float
    cost_usd: float
    errors_by_code: _containers.ScalarMap[str, int]
    fallback_rate: float
    key_name: str
    latency: LatencyPercentiles
    method: str
    model: str
    period_start: _timestamp_pb2.Timestamp
    prompt_tokens: int
    provider: str
    reasoning_tokens: int
    requests: int
    successful: int
    total_tokens: int
    def __init__(self, key_name: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., method: _Optional[str] = ..., period_start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., requests: _Optional[int] = ..., successful: _Optional[int] = ..., errors_by_code: _Optional[_Mapping[str, int]] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., latency: _Optional[_Union[LatencyPercentiles, _Mapping]] = ..., fallback_rate: _Optional[float] = ..., cache_hit_rate: _Optional[float] = ..., cost_saved_usd: _Optional[float] = ..., cached_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ...) -> None: ...

class UsageGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
