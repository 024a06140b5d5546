from google.protobuf import timestamp_pb2 as _timestamp_pb2
from orchestrator.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CATALOG_SOURCE_ARENA: CatalogSource
CATALOG_SOURCE_BUILTIN: CatalogSource
CATALOG_SOURCE_CONFIG: CatalogSource
CATALOG_SOURCE_HUGGINGFACE: CatalogSource
CATALOG_SOURCE_OPENROUTER: CatalogSource
CATALOG_SOURCE_RUNTIME: CatalogSource
CATALOG_SOURCE_UNSPECIFIED: CatalogSource
DESCRIPTOR: _descriptor.FileDescriptor
MODEL_KIND_CHAT: ModelKind
MODEL_KIND_EMBEDDING: ModelKind
MODEL_KIND_UNSPECIFIED: ModelKind
MODEL_TIER_LARGE: ModelTier
MODEL_TIER_MEDIUM: ModelTier
MODEL_TIER_SMALL: ModelTier
MODEL_TIER_UNSPECIFIED: ModelTier

class CreateModelRequest(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: RuntimeModelSpec
    def __init__(self, model: _Optional[_Union[RuntimeModelSpec, _Mapping]] = ...) -> None: ...

class CreateModelResponse(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class FieldProvenance(_message.Message):
    __slots__ = ["fetched_at", "field", "source"]
    FETCHED_AT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    fetched_at: _timestamp_pb2.Timestamp
    field: str
    source: CatalogSource
    def __init__(self, field: _Optional[str] = ..., source: _Optional[_Union[CatalogSource, str]] = ..., fetched_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListModelHistoryRequest(_message.Message):
    __slots__ = ["field", "limit", "model"]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    field: str
    limit: int
    model: str
    def __init__(self, model: _Optional[str] = ..., field: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListModelHistoryResponse(_message.Message):
    __slots__ = ["changes"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ModelFieldChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[ModelFieldChange, _Mapping]]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ["available_only", "provider"]
    AVAILABLE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    available_only: bool
    provider: str
    def __init__(self, provider: _Optional[str] = ..., available_only: bool = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ["models"]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class ModelCapabilities(_message.Message):
    __slots__ = ["images", "json_schema", "tools"]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    images: bool
    json_schema: bool
    tools: bool
    def __init__(self, tools: bool = ..., images: bool = ..., json_schema: bool = ...) -> None: ...

class ModelFieldChange(_message.Message):
    __slots__ = ["changed_at", "field", "model", "new_value", "old_value", "source"]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    changed_at: _timestamp_pb2.Timestamp
    field: str
    model: str
    new_value: str
    old_value: str
    source: CatalogSource
    def __init__(self, model: _Optional[str] = ..., field: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., source: _Optional[_Union[CatalogSource, str]] = ..., changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ["aliases", "available", "breaker_state", "cache_write_price_per_million", "cached_input_price_per_million", "capabilities", "context_window", "dimensions", "fallbacks", "family", "id", "input_price_per_million", "kind", "max_output_tokens", "output_price_per_million", "provenance", "provider", "quality", "simulated", "supports_streaming", "tier"]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SIMULATED_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    available: bool
    breaker_state: _common_pb2.CircuitState
    cache_write_price_per_million: float
    cached_input_price_per_million: float
    capabilities: ModelCapabilities
    context_window: int
    dimensions: int
    fallbacks: _containers.RepeatedScalarFieldContainer[str]
    family: str
    id: str
    input_price_per_million: float
    kind: ModelKind
    max_output_tokens: int
    output_price_per_million: float
    provenance: _containers.RepeatedCompositeFieldContainer[FieldProvenance]
    provider: str
    quality: float
    simulated: bool
    supports_streaming: bool
    tier: ModelTier
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., context_window: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., supports_streaming: bool = ..., input_price_per_million: _Optional[float] = ..., output_price_per_million: _Optional[float] = ..., cached_input_price_per_million: _Optional[float] = ..., family: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., fallbacks: _Optional[_Iterable[str]] = ..., available: bool = ..., simulated: bool = ..., breaker_state: _Optional[_Union[_common_pb2.CircuitState, str]] = ..., quality: _Optional[float] = ..., capabilities: _Optional[_Union[ModelCapabilities, _Mapping]] = ..., provenance: _Optional[_Iterable[_Union[FieldProvenance, _Mapping]]] = ..., kind: _Optional[_Union[ModelKind, str]] = ..., dimensions: _Optional[int] = ..., cache_write_price_per_million: _Optional[float] = ...) -> None: ...

class NameMatch(_message.Message):
    __slots__ = ["catalog_id", "confidence", "external_id", "rule"]
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    confidence: float
    external_id: str
    rule: str
    def __init__(self, external_id: _Optional[str] = ..., catalog_id: _Optional[str] = ..., rule: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class RankModelsRequest(_message.Message):
    __slots__ = ["candidates", "max_tokens", "profile", "prompt", "prompt_tokens"]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedScalarFieldContainer[str]
    max_tokens: int
    profile: _common_pb2.RoutingProfile
    prompt: str
    prompt_tokens: int
    def __init__(self, profile: _Optional[_Union[_common_pb2.RoutingProfile, str]] = ..., prompt: _Optional[str] = ..., candidates: _Optional[_Iterable[str]] = ..., max_tokens: _Optional[int] = ..., prompt_tokens: _Optional[int] = ...) -> None: ...

class RankModelsResponse(_message.Message):
    __slots__ = ["decision"]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _common_pb2.RouteDecision
    def __init__(self, decision: _Optional[_Union[_common_pb2.RouteDecision, _Mapping]] = ...) -> None: ...

class RuntimeModelSpec(_message.Message):
    __slots__ = ["aliases", "cache_write_price_per_million", "cached_input_price_per_million", "capabilities", "context_window", "fallbacks", "family", "id", "input_price_per_million", "max_output_tokens", "output_price_per_million", "provider", "quality", "tier", "upstream_id"]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_ID_FIELD_NUMBER: _ClassVar[int]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    cache_write_price_per_million: float
    cached_input_price_per_million: float
    capabilities: ModelCapabilities
    context_window: int
    fallbacks: _containers.RepeatedScalarFieldContainer[str]
    family: str
    id: str
    input_price_per_million: float
    max_output_tokens: int
    output_price_per_million: float
    provider: str
    quality: float
    tier: ModelTier
    upstream_id: str
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., upstream_id: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., context_window: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., input_price_per_million: _Optional[float] = ..., output_price_per_million: _Optional[float] = ..., cached_input_price_per_million: _Optional[float] = ..., quality: _Optional[float] = ..., capabilities: _Optional[_Union[ModelCapabilities, _Mapping]] = ..., fallbacks: _Optional[_Iterable[str]] = ..., family: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., cache_write_price_per_million: _Optional[float] = ...) -> None: ...

class SyncCatalogRequest(_message.Message):
    __slots__ = ["source"]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: CatalogSource
    def __init__(self, source: _Optional[_Union[CatalogSource, str]] = ...) -> None: ...

class SyncCatalogResponse(_message.Message):
    __slots__ = ["reports"]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[SyncReport]
    def __init__(self, reports: _Optional[_Iterable[_Union[SyncReport, _Mapping]]] = ...) -> None: ...

class SyncReport(_message.Message):
    __slots__ = ["error", "finished_at", "matched", "models", "ok", "source", "started_at", "unmatched"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_FIELD_NUMBER: _ClassVar[int]
    error: str
    finished_at: _timestamp_pb2.Timestamp
    matched: _containers.RepeatedCompositeFieldContainer[NameMatch]
    models: int
    ok: bool
    source: CatalogSource
    started_at: _timestamp_pb2.Timestamp
    unmatched: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source: _Optional[_Union[CatalogSource, str]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ok: bool = ..., error: _Optional[str] = ..., models: _Optional[int] = ..., matched: _Optional[_Iterable[_Union[NameMatch, _Mapping]]] = ..., unmatched: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: RuntimeModelSpec
    def __init__(self, model: _Optional[_Union[RuntimeModelSpec, _Mapping]] = ...) -> None: ...

class UpdateModelResponse(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class ModelTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ModelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CatalogSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
