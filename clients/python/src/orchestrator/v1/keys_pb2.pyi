from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

API_KEY_SOURCE_CONFIG_FILE: ApiKeySource
API_KEY_SOURCE_RUNTIME: ApiKeySource
API_KEY_SOURCE_UNSPECIFIED: ApiKeySource
DESCRIPTOR: _descriptor.FileDescriptor

class ApiKey(_message.Message):
    __slots__ = ["allowed_models", "budgets", "create_time", "key_prefix", "limits", "name", "read_only", "revoke_time", "scopes", "source", "update_time"]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    allowed_models: _containers.RepeatedScalarFieldContainer[str]
    budgets: ApiKeyBudgets
    create_time: _timestamp_pb2.Timestamp
    key_prefix: str
    limits: ApiKeyLimits
    name: str
    read_only: bool
    revoke_time: _timestamp_pb2.Timestamp
    scopes: _containers.RepeatedScalarFieldContainer[str]
    source: ApiKeySource
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., source: _Optional[_Union[ApiKeySource, str]] = ..., read_only: bool = ..., allowed_models: _Optional[_Iterable[str]] = ..., limits: _Optional[_Union[ApiKeyLimits, _Mapping]] = ..., budgets: _Optional[_Union[ApiKeyBudgets, _Mapping]] = ..., scopes: _Optional[_Iterable[str]] = ..., key_prefix: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApiKeyBudgets(_message.Message):
    __slots__ = ["usd_per_day", "usd_per_month"]
    USD_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    USD_PER_MONTH_FIELD_NUMBER: _ClassVar[int]
    usd_per_day: float
    usd_per_month: float
    def __init__(self, usd_per_day: _Optional[float] = ..., usd_per_month: _Optional[float] = ...) -> None: ...

class ApiKeyLimits(_message.Message):
    __slots__ = ["requests_per_minute", "tokens_per_minute"]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    requests_per_minute: int
    tokens_per_minute: int
    def __init__(self, requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class ApiKeyModels(_message.Message):
    __slots__ = ["patterns"]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class ApiKeyScopes(_message.Message):
    __slots__ = ["scopes"]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ["allowed_models", "budgets", "limits", "name", "scopes"]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    allowed_models: ApiKeyModels
    budgets: ApiKeyBudgets
    limits: ApiKeyLimits
    name: str
    scopes: ApiKeyScopes
    def __init__(self, name: _Optional[str] = ..., allowed_models: _Optional[_Union[ApiKeyModels, _Mapping]] = ..., limits: _Optional[_Union[ApiKeyLimits, _Mapping]] = ..., budgets: _Optional[_Union[ApiKeyBudgets, _Mapping]] = ..., scopes: _Optional[_Union[ApiKeyScopes, _Mapping]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ["api_key", "key"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    key: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ["include_revoked"]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    include_revoked: bool
    def __init__(self, include_revoked: bool = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ["api_keys"]
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ["api_key"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class UpdateApiKeyRequest(_message.Message):
    __slots__ = ["allowed_models", "budgets", "limits", "name", "scopes"]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    allowed_models: ApiKeyModels
    budgets: ApiKeyBudgets
    limits: ApiKeyLimits
    name: str
    scopes: ApiKeyScopes
    def __init__(self, name: _Optional[str] = ..., allowed_models: _Optional[_Union[ApiKeyModels, _Mapping]] = ..., limits: _Optional[_Union[ApiKeyLimits, _Mapping]] = ..., budgets: _Optional[_Union[ApiKeyBudgets, _Mapping]] = ..., scopes: _Optional[_Union[ApiKeyScopes, _Mapping]] = ...) -> None: ...

class UpdateApiKeyResponse(_message.Message):
    __slots__ = ["api_key"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class ApiKeySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
