"""``/openapi/v2`` in protobuf: the Swagger 2.0 document as gnostic's ``openapi.v2.Document``.

kubectl validates some input on the client: a ``kind: List`` (what ``kubectl get -o yaml``
prints) is not a resource the server could check, so kubectl checks each item itself against
the Swagger 2.0 schema. It asks for that schema as ``GET /openapi/v2`` with
``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``: the document encoded
as protocol buffers with the message types of gnostic (``openapiv2/OpenAPIv2.proto`` in
google/gnostic-models), a protobuf model of Swagger 2.0 that upstream's API server serves and
client-go decodes. kubectl then reads ``definitions``: each kind's schema (its properties, to
report an unknown field) and the ``x-kubernetes-group-version-kind`` vendor extension that ties
a definition to the ``apiVersion`` and ``kind`` of an object.

The message types are built at import time from a ``FileDescriptorProto`` written out below
(message names, field names, numbers, types, labels and oneofs as in the ``.proto``), so no
generated code and no protobuf compiler are needed; the ``protobuf`` library does the encoding.

The JSON -> protobuf mapping is gnostic's: a field's name is the JSON key in snake case
(``multipleOf`` -> ``multiple_of``, ``$ref`` -> ``_ref``); ``type`` becomes a ``TypeItem`` list,
``items`` an ``ItemsItem`` list, ``additionalProperties`` a schema or a boolean, JSON maps
(``properties``, ``definitions``, ``paths``, ``responses``) lists of ``Named*`` pairs in document
order; a parameter is a body parameter or one of four non-body kinds by its ``in``; and every
free-form value (``default``, ``example``, ``enum`` members, vendor extensions ``x-*``) is an
``Any`` whose ``yaml`` field holds the value written as YAML.

Interface:
    Document                    # the openapi.v2.Document message class (for tests, decoding)
    message(name)               # any message class of the file, e.g. message("Schema")
    encode(document) -> bytes   # a Swagger 2.0 document (a dict) as Document bytes

Simplified: the document comes from JSON, so what JSON Schema has and Swagger 2.0 has not
(``nullable``, ``anyOf``, ``oneOf``, ``not``) is left out, as upstream leaves it out of v2;
``allOf`` of one ``$ref`` (how the OpenAPI v3 documents refer to a field's type) is published
as that ``$ref``, as upstream's v2 documents do; a custom resource's schema loses ``properties``
where it keeps unknown fields (``x-kubernetes-preserve-unknown-fields``) and ``type`` where it
may be null or an int-or-string, so kubectl does not reject what the server accepts.
Security definitions are mapped but minik8s publishes none.

Taught in chapter 3 (kubectl talks to the API server), next to discovery (minik8s.apiserver.discovery).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message


# The messages of OpenAPIv2.proto (package openapi.v2): "name:type=number", "*" for repeated.
# A type without a dot is a scalar (string, bool, double, int64) or another message of this file.
_MESSAGES: dict[str, str] = {
    "AdditionalPropertiesItem": "schema:Schema=1 boolean:bool=2",
    "Any": "value:google.protobuf.Any=1 yaml:string=2",
    "ApiKeySecurity": "type:string=1 name:string=2 in:string=3 description:string=4 *vendor_extension:NamedAny=5",
    "BasicAuthenticationSecurity": "type:string=1 description:string=2 *vendor_extension:NamedAny=3",
    "BodyParameter": "description:string=1 name:string=2 in:string=3 required:bool=4 schema:Schema=5 "
                     "*vendor_extension:NamedAny=6",
    "Contact": "name:string=1 url:string=2 email:string=3 *vendor_extension:NamedAny=4",
    "Default": "*additional_properties:NamedAny=1",
    "Definitions": "*additional_properties:NamedSchema=1",
    "Document": "swagger:string=1 info:Info=2 host:string=3 base_path:string=4 *schemes:string=5 "
                "*consumes:string=6 *produces:string=7 paths:Paths=8 definitions:Definitions=9 "
                "parameters:ParameterDefinitions=10 responses:ResponseDefinitions=11 "
                "*security:SecurityRequirement=12 security_definitions:SecurityDefinitions=13 *tags:Tag=14 "
                "external_docs:ExternalDocs=15 *vendor_extension:NamedAny=16",
    "Examples": "*additional_properties:NamedAny=1",
    "ExternalDocs": "description:string=1 url:string=2 *vendor_extension:NamedAny=3",
    "FileSchema": "format:string=1 title:string=2 description:string=3 default:Any=4 *required:string=5 "
                  "type:string=6 read_only:bool=7 external_docs:ExternalDocs=8 example:Any=9 "
                  "*vendor_extension:NamedAny=10",
    "FormDataParameterSubSchema": "required:bool=1 in:string=2 description:string=3 name:string=4 "
                                  "allow_empty_value:bool=5 type:string=6 format:string=7 items:PrimitivesItems=8 "
                                  "collection_format:string=9 default:Any=10 maximum:double=11 "
                                  "exclusive_maximum:bool=12 minimum:double=13 exclusive_minimum:bool=14 "
                                  "max_length:int64=15 min_length:int64=16 pattern:string=17 max_items:int64=18 "
                                  "min_items:int64=19 unique_items:bool=20 *enum:Any=21 multiple_of:double=22 "
                                  "*vendor_extension:NamedAny=23",
    "Header": "type:string=1 format:string=2 items:PrimitivesItems=3 collection_format:string=4 default:Any=5 "
              "maximum:double=6 exclusive_maximum:bool=7 minimum:double=8 exclusive_minimum:bool=9 "
              "max_length:int64=10 min_length:int64=11 pattern:string=12 max_items:int64=13 min_items:int64=14 "
              "unique_items:bool=15 *enum:Any=16 multiple_of:double=17 description:string=18 "
              "*vendor_extension:NamedAny=19",
    "HeaderParameterSubSchema": "required:bool=1 in:string=2 description:string=3 name:string=4 type:string=5 "
                                "format:string=6 items:PrimitivesItems=7 collection_format:string=8 default:Any=9 "
                                "maximum:double=10 exclusive_maximum:bool=11 minimum:double=12 "
                                "exclusive_minimum:bool=13 max_length:int64=14 min_length:int64=15 pattern:string=16 "
                                "max_items:int64=17 min_items:int64=18 unique_items:bool=19 *enum:Any=20 "
                                "multiple_of:double=21 *vendor_extension:NamedAny=22",
    "Headers": "*additional_properties:NamedHeader=1",
    "Info": "title:string=1 version:string=2 description:string=3 terms_of_service:string=4 contact:Contact=5 "
            "license:License=6 *vendor_extension:NamedAny=7",
    "ItemsItem": "*schema:Schema=1",
    "JsonReference": "_ref:string=1 description:string=2",
    "License": "name:string=1 url:string=2 *vendor_extension:NamedAny=3",
    "NamedAny": "name:string=1 value:Any=2",
    "NamedHeader": "name:string=1 value:Header=2",
    "NamedParameter": "name:string=1 value:Parameter=2",
    "NamedPathItem": "name:string=1 value:PathItem=2",
    "NamedResponse": "name:string=1 value:Response=2",
    "NamedResponseValue": "name:string=1 value:ResponseValue=2",
    "NamedSchema": "name:string=1 value:Schema=2",
    "NamedSecurityDefinitionsItem": "name:string=1 value:SecurityDefinitionsItem=2",
    "NamedString": "name:string=1 value:string=2",
    "NamedStringArray": "name:string=1 value:StringArray=2",
    "NonBodyParameter": "header_parameter_sub_schema:HeaderParameterSubSchema=1 "
                        "form_data_parameter_sub_schema:FormDataParameterSubSchema=2 "
                        "query_parameter_sub_schema:QueryParameterSubSchema=3 "
                        "path_parameter_sub_schema:PathParameterSubSchema=4",
    "Oauth2AccessCodeSecurity": "type:string=1 flow:string=2 scopes:Oauth2Scopes=3 authorization_url:string=4 "
                                "token_url:string=5 description:string=6 *vendor_extension:NamedAny=7",
    "Oauth2ApplicationSecurity": "type:string=1 flow:string=2 scopes:Oauth2Scopes=3 token_url:string=4 "
                                 "description:string=5 *vendor_extension:NamedAny=6",
    "Oauth2ImplicitSecurity": "type:string=1 flow:string=2 scopes:Oauth2Scopes=3 authorization_url:string=4 "
                              "description:string=5 *vendor_extension:NamedAny=6",
    "Oauth2PasswordSecurity": "type:string=1 flow:string=2 scopes:Oauth2Scopes=3 token_url:string=4 "
                              "description:string=5 *vendor_extension:NamedAny=6",
    "Oauth2Scopes": "*additional_properties:NamedString=1",
    "Operation": "*tags:string=1 summary:string=2 description:string=3 external_docs:ExternalDocs=4 "
                 "operation_id:string=5 *produces:string=6 *consumes:string=7 *parameters:ParametersItem=8 "
                 "responses:Responses=9 *schemes:string=10 deprecated:bool=11 *security:SecurityRequirement=12 "
                 "*vendor_extension:NamedAny=13",
    "Parameter": "body_parameter:BodyParameter=1 non_body_parameter:NonBodyParameter=2",
    "ParameterDefinitions": "*additional_properties:NamedParameter=1",
    "ParametersItem": "parameter:Parameter=1 json_reference:JsonReference=2",
    "PathItem": "_ref:string=1 get:Operation=2 put:Operation=3 post:Operation=4 delete:Operation=5 "
                "options:Operation=6 head:Operation=7 patch:Operation=8 *parameters:ParametersItem=9 "
                "*vendor_extension:NamedAny=10",
    "PathParameterSubSchema": "required:bool=1 in:string=2 description:string=3 name:string=4 type:string=5 "
                              "format:string=6 items:PrimitivesItems=7 collection_format:string=8 default:Any=9 "
                              "maximum:double=10 exclusive_maximum:bool=11 minimum:double=12 "
                              "exclusive_minimum:bool=13 max_length:int64=14 min_length:int64=15 pattern:string=16 "
                              "max_items:int64=17 min_items:int64=18 unique_items:bool=19 *enum:Any=20 "
                              "multiple_of:double=21 *vendor_extension:NamedAny=22",
    "Paths": "*vendor_extension:NamedAny=1 *path:NamedPathItem=2",
    "PrimitivesItems": "type:string=1 format:string=2 items:PrimitivesItems=3 collection_format:string=4 "
                       "default:Any=5 maximum:double=6 exclusive_maximum:bool=7 minimum:double=8 "
                       "exclusive_minimum:bool=9 max_length:int64=10 min_length:int64=11 pattern:string=12 "
                       "max_items:int64=13 min_items:int64=14 unique_items:bool=15 *enum:Any=16 "
                       "multiple_of:double=17 *vendor_extension:NamedAny=18",
    "Properties": "*additional_properties:NamedSchema=1",
    "QueryParameterSubSchema": "required:bool=1 in:string=2 description:string=3 name:string=4 "
                               "allow_empty_value:bool=5 type:string=6 format:string=7 items:PrimitivesItems=8 "
                               "collection_format:string=9 default:Any=10 maximum:double=11 "
                               "exclusive_maximum:bool=12 minimum:double=13 exclusive_minimum:bool=14 "
                               "max_length:int64=15 min_length:int64=16 pattern:string=17 max_items:int64=18 "
                               "min_items:int64=19 unique_items:bool=20 *enum:Any=21 multiple_of:double=22 "
                               "*vendor_extension:NamedAny=23",
    "Response": "description:string=1 schema:SchemaItem=2 headers:Headers=3 examples:Examples=4 "
                "*vendor_extension:NamedAny=5",
    "ResponseDefinitions": "*additional_properties:NamedResponse=1",
    "ResponseValue": "response:Response=1 json_reference:JsonReference=2",
    "Responses": "*response_code:NamedResponseValue=1 *vendor_extension:NamedAny=2",
    "Schema": "_ref:string=1 format:string=2 title:string=3 description:string=4 default:Any=5 "
              "multiple_of:double=6 maximum:double=7 exclusive_maximum:bool=8 minimum:double=9 "
              "exclusive_minimum:bool=10 max_length:int64=11 min_length:int64=12 pattern:string=13 "
              "max_items:int64=14 min_items:int64=15 unique_items:bool=16 max_properties:int64=17 "
              "min_properties:int64=18 *required:string=19 *enum:Any=20 "
              "additional_properties:AdditionalPropertiesItem=21 type:TypeItem=22 items:ItemsItem=23 "
              "*all_of:Schema=24 properties:Properties=25 discriminator:string=26 read_only:bool=27 xml:Xml=28 "
              "external_docs:ExternalDocs=29 example:Any=30 *vendor_extension:NamedAny=31",
    "SchemaItem": "schema:Schema=1 file_schema:FileSchema=2",
    "SecurityDefinitions": "*additional_properties:NamedSecurityDefinitionsItem=1",
    "SecurityDefinitionsItem": "basic_authentication_security:BasicAuthenticationSecurity=1 "
                               "api_key_security:ApiKeySecurity=2 oauth2_implicit_security:Oauth2ImplicitSecurity=3 "
                               "oauth2_password_security:Oauth2PasswordSecurity=4 "
                               "oauth2_application_security:Oauth2ApplicationSecurity=5 "
                               "oauth2_access_code_security:Oauth2AccessCodeSecurity=6",
    "SecurityRequirement": "*additional_properties:NamedStringArray=1",
    "StringArray": "*value:string=1",
    "Tag": "name:string=1 description:string=2 external_docs:ExternalDocs=3 *vendor_extension:NamedAny=4",
    "TypeItem": "*value:string=1",
    "VendorExtension": "*additional_properties:NamedAny=1",
    "Xml": "name:string=1 namespace:string=2 prefix:string=3 attribute:bool=4 wrapped:bool=5 "
           "*vendor_extension:NamedAny=6",
}
# Messages whose fields all belong to one oneof, named "oneof" in the .proto: exactly one is set.
_ONEOFS = {"AdditionalPropertiesItem", "NonBodyParameter", "Parameter", "ParametersItem", "ResponseValue",
           "SchemaItem", "SecurityDefinitionsItem"}
_SCALARS = {"string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
            "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
            "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64}
_PACKAGE = "openapi.v2"


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """OpenAPIv2.proto as a FileDescriptorProto (what protoc would produce from the .proto file)."""
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="openapiv2/OpenAPIv2.proto", package=_PACKAGE, syntax="proto3",
                                              dependency=["google/protobuf/any.proto"])
    for name, fields in _MESSAGES.items():
        msg = file.message_type.add(name=name)
        if name in _ONEOFS:
            msg.oneof_decl.add(name="oneof")
        for spec in fields.split():
            repeated = spec.startswith("*")
            field_name, rest = spec.lstrip("*").split(":")
            type_name, number = rest.split("=")
            field = msg.field.add(name=field_name, number=int(number),
                                  label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name in _SCALARS:
                field.type = _SCALARS[type_name]
            else:
                field.type = F.TYPE_MESSAGE
                field.type_name = "." + (type_name if "." in type_name else f"{_PACKAGE}.{type_name}")
            if name in _ONEOFS:
                field.oneof_index = 0
    return file


def _message_classes() -> dict[str, type[Message]]:
    pool = descriptor_pool.DescriptorPool()
    any_file = descriptor_pb2.FileDescriptorProto()
    any_pb2.DESCRIPTOR.CopyToProto(any_file)
    pool.Add(any_file)
    pool.Add(_file_descriptor())
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name in _MESSAGES}


_CLASSES = _message_classes()
Document = _CLASSES["Document"]


def message(name: str) -> type[Message]:
    """The class of one message of OpenAPIv2.proto, by its short name (``"Schema"``, ``"NamedAny"``)."""
    return _CLASSES[name]


def encode(document: dict[str, Any]) -> bytes:
    """A Swagger 2.0 document (as ``discovery.openapi_v2`` returns it) as ``openapi.v2.Document`` bytes."""
    doc = Document()
    _fill(doc, document)
    return bytes(doc.SerializeToString(deterministic=True))


def _snake(key: str) -> str:
    return "_ref" if key == "$ref" else re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key)


def _fill(msg: Message, obj: dict[str, Any]) -> None:
    """Set ``msg``'s fields from the JSON object ``obj``, key by key (unknown keys are left out)."""
    name = msg.DESCRIPTOR.name
    if name == "Schema":
        obj = _v2_schema(obj)
    if name in _SHAPES:
        _SHAPES[name](msg, obj)
        return
    fields = msg.DESCRIPTOR.fields_by_name
    for key, value in obj.items():
        if key.startswith("x-") and "vendor_extension" in fields:
            msg.vendor_extension.add(name=key).value.yaml = _yaml(value)  # type: ignore[attr-defined]
            continue
        field = fields.get(_snake(key))
        if field is None:
            continue
        _set(msg, field, value)


def _set(msg: Message, field: Any, value: Any) -> None:
    try:
        _set_field(msg, field, value)
    except (TypeError, ValueError):
        # A value Swagger 2.0 has no room for (a CRD's ``required: true``, a float where an integer goes) is
        # left out, as unknown keys are: publishing the rest beats failing the whole document.
        msg.ClearField(field.name)


def _set_field(msg: Message, field: Any, value: Any) -> None:
    if field.message_type is None:                       # a scalar, or a list of them
        if field.is_repeated:
            getattr(msg, field.name).extend(value)
        elif field.type == field.TYPE_STRING and not isinstance(value, str):
            return                                       # e.g. an OpenAPI v3 discriminator object
        else:
            setattr(msg, field.name, value)
    elif field.is_repeated:
        for item in value:
            _convert(getattr(msg, field.name).add(), item)
    else:
        _convert(getattr(msg, field.name), value)


def _convert(msg: Message, value: Any) -> None:
    """Fill the message ``msg`` from a JSON value of any shape (an object, a list, a scalar)."""
    name = msg.DESCRIPTOR.name
    if name == "Any":
        msg.yaml = _yaml(value)  # type: ignore[attr-defined]
    elif name in ("TypeItem", "StringArray"):
        msg.value.extend([value] if isinstance(value, str) else value)  # type: ignore[attr-defined]
    elif name == "ItemsItem":
        for schema in [value] if isinstance(value, dict) else value:
            if isinstance(schema, dict):
                _fill(msg.schema.add(), schema)  # type: ignore[attr-defined]
    elif name == "AdditionalPropertiesItem":
        if isinstance(value, bool):
            msg.boolean = value  # type: ignore[attr-defined]
        else:
            _fill(msg.schema, value)  # type: ignore[attr-defined]
    elif isinstance(value, dict):
        _fill(msg, value)


def _named_map(msg: Message, obj: dict[str, Any], field: str = "additional_properties") -> None:
    """A JSON map as gnostic's list of ``Named*`` pairs, in document order."""
    entries = getattr(msg, field)
    for key, value in obj.items():
        pair = entries.add(name=key)
        if pair.DESCRIPTOR.fields_by_name["value"].message_type is None:
            pair.value = value
        else:
            _convert(pair.value, value)


def _paths(msg: Message, obj: dict[str, Any]) -> None:
    _named_map(msg, {k: v for k, v in obj.items() if not k.startswith("x-")}, "path")
    _named_map(msg, {k: v for k, v in obj.items() if k.startswith("x-")}, "vendor_extension")


def _responses(msg: Message, obj: dict[str, Any]) -> None:
    _named_map(msg, {k: v for k, v in obj.items() if not k.startswith("x-")}, "response_code")
    _named_map(msg, {k: v for k, v in obj.items() if k.startswith("x-")}, "vendor_extension")


def _reference_or(choice: str) -> Any:
    """A oneof of a ``$ref`` (a JsonReference) or the thing itself (``choice``)."""
    def fill(msg: Message, obj: dict[str, Any]) -> None:
        _fill(getattr(msg, "json_reference" if "$ref" in obj else choice), obj)
    return fill


def _parameter(msg: Message, obj: dict[str, Any]) -> None:
    if obj.get("in") == "body":
        _fill(msg.body_parameter, obj)  # type: ignore[attr-defined]
        return
    kind = {"header": "header", "formData": "form_data", "query": "query", "path": "path"}.get(obj.get("in", ""))
    if kind is not None:
        _fill(getattr(msg.non_body_parameter, f"{kind}_parameter_sub_schema"), obj)  # type: ignore[attr-defined]


def _schema_item(msg: Message, obj: dict[str, Any]) -> None:
    _fill(msg.file_schema if obj.get("type") == "file" else msg.schema, obj)  # type: ignore[attr-defined]


def _security_definition(msg: Message, obj: dict[str, Any]) -> None:
    kind = {"basic": "basic_authentication", "apiKey": "api_key"}.get(obj.get("type", ""))
    if obj.get("type") == "oauth2":
        kind = {"implicit": "oauth2_implicit", "password": "oauth2_password", "application": "oauth2_application",
                "accessCode": "oauth2_access_code"}.get(obj.get("flow", ""))
    if kind is not None:
        _fill(getattr(msg, f"{kind}_security"), obj)


_SHAPES = {
    **{name: _named_map for name in ("Default", "Definitions", "Examples", "Headers", "Oauth2Scopes",
                                     "ParameterDefinitions", "Properties", "ResponseDefinitions",
                                     "SecurityDefinitions", "SecurityRequirement", "VendorExtension")},
    "Paths": _paths,
    "Responses": _responses,
    "ParametersItem": _reference_or("parameter"),
    "ResponseValue": _reference_or("response"),
    "Parameter": _parameter,
    "SchemaItem": _schema_item,
    "SecurityDefinitionsItem": _security_definition,
}


def _v2_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema as Swagger 2.0 (and kubectl's reader of it) can take it; see the module docstring."""
    out = dict(schema)
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"} and "$ref" not in out:
        del out["allOf"]
        out["$ref"] = all_of[0]["$ref"]
    if out.get("x-kubernetes-preserve-unknown-fields") is True:
        out.pop("properties", None)
    if out.get("nullable") is True or out.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
    return out


def _yaml(value: Any) -> str:
    """A value as the YAML text gnostic keeps in ``Any.yaml``."""
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return text.removesuffix("...\n")
