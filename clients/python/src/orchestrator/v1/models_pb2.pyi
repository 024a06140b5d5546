from orchestrator.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
MODEL_TIER_LARGE: ModelTier
MODEL_TIER_MEDIUM: ModelTier
MODEL_TIER_SMALL: ModelTier
MODEL_TIER_UNSPECIFIED: ModelTier

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

class ModelInfo(_message.Message):
    __slots__ = ["aliases", "available", "breaker_state", "cached_input_price_per_million", "context_window", "fallbacks", "family", "id", "input_price_per_million", "max_output_tokens", "output_price_per_million", "provider", "quality", "simulated", "supports_streaming", "tier"]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PRICE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SIMULATED_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    available: bool
    breaker_state: _common_pb2.CircuitState
    cached_input_price_per_million: float
    context_window: int
    fallbacks: _containers.RepeatedScalarFieldContainer[str]
    family: str
    id: str
    input_price_per_million: float
    max_output_tokens: int
    output_price_per_million: float
    provider: str
    quality: float
    simulated: bool
    supports_streaming: bool
    tier: ModelTier
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., context_window: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., supports_streaming: bool = ..., input_price_per_million: _Optional[float] = ..., output_price_per_million: _Optional[float] = ..., cached_input_price_per_million: _Optional[float] = ..., family: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., fallbacks: _Optional[_Iterable[str]] = ..., available: bool = ..., simulated: bool = ..., breaker_state: _Optional[_Union[_common_pb2.CircuitState, str]] = ..., quality: _Optional[float] = ...) -> None: ...

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

class ModelTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
