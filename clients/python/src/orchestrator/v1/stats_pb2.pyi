from google.protobuf import timestamp_pb2 as _timestamp_pb2
from orchestrator.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ["access_rejections", "cache_hits", "cache_misses", "cache_stale_served", "completion_tokens", "default_messages_served", "error_rate", "failed_requests", "fallbacks_triggered", "latency", "methods", "models", "prompt_tokens", "providers", "race_wins", "retries", "retries_throttled", "routing", "started_at", "stream_restarts", "successful_requests", "time_to_first_token", "total_cost_usd", "total_requests", "uptime_seconds"]
    class AccessRejectionsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACCESS_REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    CACHE_MISSES_FIELD_NUMBER: _ClassVar[int]
    CACHE_STALE_SERVED_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MESSAGES_SERVED_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    FAILED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    RACE_WINS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    RETRIES_THROTTLED_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STREAM_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_USD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    access_rejections: _containers.ScalarMap[str, int]
    cache_hits: int
    cache_misses: int
    cache_stale_served: int
    completion_tokens: int
    default_messages_served: int
    error_rate: float
    failed_requests: int
    fallbacks_triggered: int
    latency: LatencySummary
    methods: _containers.RepeatedCompositeFieldContainer[MethodStats]
    models: _containers.RepeatedCompositeFieldContainer[UpstreamStats]
    prompt_tokens: int
    providers: _containers.RepeatedCompositeFieldContainer[UpstreamStats]
    race_wins: int
    retries: int
    retries_throttled: int
    routing: _containers.RepeatedCompositeFieldContainer[RoutingStats]
    started_at: _timestamp_pb2.Timestamp
    stream_restarts: int
    successful_requests: int
    time_to_first_token: LatencySummary
    total_cost_usd: float
    total_requests: int
    uptime_seconds: float
    def __init__(self, started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., uptime_seconds: _Optional[float] = ..., total_requests: _Optional[int] = ..., successful_requests: _Optional[int] = ..., failed_requests: _Optional[int] = ..., error_rate: _Optional[float] = ..., latency: _Optional[_Union[LatencySummary, _Mapping]] = ..., time_to_first_token: _Optional[_Union[LatencySummary, _Mapping]] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_cost_usd: _Optional[float] = ..., race_wins: _Optional[int] = ..., fallbacks_triggered: _Optional[int] = ..., default_messages_served: _Optional[int] = ..., providers: _Optional[_Iterable[_Union[UpstreamStats, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[UpstreamStats, _Mapping]]] = ..., methods: _Optional[_Iterable[_Union[MethodStats, _Mapping]]] = ..., retries: _Optional[int] = ..., retries_throttled: _Optional[int] = ..., stream_restarts: _Optional[int] = ..., routing: _Optional[_Iterable[_Union[RoutingStats, _Mapping]]] = ..., cache_hits: _Optional[int] = ..., cache_misses: _Optional[int] = ..., cache_stale_served: _Optional[int] = ..., access_rejections: _Optional[_Mapping[str, int]] = ...) -> None: ...

class LatencySummary(_message.Message):
    __slots__ = ["avg_ms", "count", "max_ms", "p50_ms", "p95_ms", "p99_ms"]
    AVG_MS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    avg_ms: float
    count: int
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    def __init__(self, count: _Optional[int] = ..., avg_ms: _Optional[float] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., max_ms: _Optional[float] = ...) -> None: ...

class MethodStats(_message.Message):
    __slots__ = ["errors", "latency", "method", "requests", "successes"]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    errors: int
    latency: LatencySummary
    method: str
    requests: int
    successes: int
    def __init__(self, method: _Optional[str] = ..., requests: _Optional[int] = ..., successes: _Optional[int] = ..., errors: _Optional[int] = ..., latency: _Optional[_Union[LatencySummary, _Mapping]] = ...) -> None: ...

class RoutingStats(_message.Message):
    __slots__ = ["decisions", "model", "profile"]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    decisions: int
    model: str
    profile: _common_pb2.RoutingProfile
    def __init__(self, profile: _Optional[_Union[_common_pb2.RoutingProfile, str]] = ..., model: _Optional[str] = ..., decisions: _Optional[int] = ...) -> None: ...

class UpstreamStats(_message.Message):
    __slots__ = ["breaker_state", "cancelled", "completion_tokens", "cost_usd", "error_rate", "errors", "in_flight", "latency", "name", "prompt_tokens", "queue_rejections", "queue_waits", "queued", "race_wins", "requests", "retries", "skipped", "successes"]
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    QUEUE_REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_WAITS_FIELD_NUMBER: _ClassVar[int]
    RACE_WINS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    breaker_state: _common_pb2.CircuitState
    cancelled: int
    completion_tokens: int
    cost_usd: float
    error_rate: float
    errors: int
    in_flight: int
    latency: LatencySummary
    name: str
    prompt_tokens: int
    queue_rejections: int
    queue_waits: int
    queued: int
    race_wins: int
    requests: int
    retries: int
    skipped: int
    successes: int
    def __init__(self, name: _Optional[str] = ..., requests: _Optional[int] = ..., successes: _Optional[int] = ..., errors: _Optional[int] = ..., cancelled: _Optional[int] = ..., error_rate: _Optional[float] = ..., latency: _Optional[_Union[LatencySummary, _Mapping]] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., race_wins: _Optional[int] = ..., retries: _Optional[int] = ..., skipped: _Optional[int] = ..., breaker_state: _Optional[_Union[_common_pb2.CircuitState, str]] = ..., in_flight: _Optional[int] = ..., queued: _Optional[int] = ..., queue_waits: _Optional[int] = ..., queue_rejections: _Optional[int] = ...) -> None: ...

class WatchStatsRequest(_message.Message):
    __slots__ = ["interval_ms"]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    interval_ms: int
    def __init__(self, interval_ms: _Optional[int] = ...) -> None: ...

class WatchStatsResponse(_message.Message):
    __slots__ = ["stats"]
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: GetStatsResponse
    def __init__(self, stats: _Optional[_Union[GetStatsResponse, _Mapping]] = ...) -> None: ...
