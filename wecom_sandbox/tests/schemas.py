"""JSON schemas of WeCom answers, written from WECOM.md (current API, not wechatpy's old
fixtures). `additionalProperties` stays open: WeCom adds fields over time."""

import jsonschema  # type: ignore[import-untyped]


def validate(instance, schema):
    jsonschema.validate(instance, schema)


OK = {
    "errcode": {"const": 0},
    "errmsg": {"const": "ok"},
}


def answer(properties: dict, required: list) -> dict:
    return {
        "type": "object",
        "properties": {**OK, **properties},
        "required": ["errcode", "errmsg", *required],
    }


ERROR = {
    "type": "object",
    "properties": {
        "errcode": {"type": "integer", "not": {"const": 0}},
        "errmsg": {
            "type": "string",
            "pattern": r", hint: \[[^\]]+\], from ip: [0-9.]+, more info at "
            r"https://open\.work\.weixin\.qq\.com/devtool/query\?e=-?\d+$",
        },
    },
    "required": ["errcode", "errmsg"],
}

GETTOKEN = answer(
    {
        "access_token": {"type": "string", "minLength": 64, "maxLength": 512},
        "expires_in": {"type": "integer", "minimum": 1},
    },
    ["access_token", "expires_in"],
)

CONTACT_WAY = {
    "type": "object",
    "properties": {
        "config_id": {"type": "string", "minLength": 1},
        "type": {"enum": [1, 2]},
        "scene": {"enum": [1, 2]},
        "style": {"type": "integer"},
        "remark": {"type": "string", "maxLength": 30},
        "skip_verify": {"type": "boolean"},
        "state": {"type": "string", "maxLength": 30},
        "qr_code": {"type": "string", "pattern": "^https://"},
        "user": {"type": "array", "items": {"type": "string"}},
        "party": {"type": "array", "items": {"type": "integer"}},
        "is_temp": {"type": "boolean"},
    },
    "required": ["config_id", "type", "scene", "skip_verify", "state", "user", "party"],
}

GET_CONTACT_WAY = answer({"contact_way": CONTACT_WAY}, ["contact_way"])

EXTERNAL_CONTACT = {
    "type": "object",
    "properties": {
        "external_userid": {"type": "string", "pattern": "^w[mo]"},
        "name": {"type": "string"},
        "avatar": {"type": "string"},
        "type": {"enum": [1, 2]},
        "gender": {"enum": [0, 1, 2]},
        "unionid": {"type": "string"},
    },
    "required": ["external_userid", "name", "type", "gender"],
}

FOLLOW_COMMON = {
    "userid": {"type": "string"},
    "remark": {"type": "string"},
    "description": {"type": "string"},
    "createtime": {"type": "integer"},
    "remark_corp_name": {"type": "string"},
    "remark_mobiles": {"type": "array", "items": {"type": "string"}},
    "oper_userid": {"type": "string"},
    "add_way": {"type": "integer"},
    "state": {"type": "string"},
}

GET_CUSTOMER = answer(
    {
        "external_contact": EXTERNAL_CONTACT,
        "follow_user": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **FOLLOW_COMMON,
                    "tags": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "group_name": {"type": "string"},
                                "tag_name": {"type": "string"},
                                "tag_id": {"type": "string", "pattern": "^et"},
                                "type": {"enum": [1, 2, 3]},
                            },
                            "required": ["group_name", "tag_name", "tag_id", "type"],
                        },
                    },
                },
                "required": ["userid", "remark", "description", "createtime", "tags", "add_way"],
                "not": {"required": ["tag_id"]},
            },
        },
        "next_cursor": {"type": "string"},
    },
    ["external_contact", "follow_user"],
)

BATCH_GET_BY_USER = answer(
    {
        "external_contact_list": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "external_contact": EXTERNAL_CONTACT,
                    "follow_info": {
                        "type": "object",
                        "properties": {
                            **FOLLOW_COMMON,
                            "tag_id": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["userid", "remark", "createtime", "tag_id", "add_way"],
                        "not": {"required": ["tags"]},
                    },
                },
                "required": ["external_contact", "follow_info"],
            },
        },
        "next_cursor": {"type": "string"},
    },
    ["external_contact_list", "next_cursor"],
)

TAG = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^et"},
        "name": {"type": "string", "maxLength": 30},
        "create_time": {"type": "integer"},
        "order": {"type": "integer", "minimum": 0},
        "deleted": {"type": "boolean"},
    },
    "required": ["id", "name", "create_time", "order"],
}

CORP_TAG_LIST = answer(
    {
        "tag_group": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "group_id": {"type": "string", "pattern": "^et"},
                    "group_name": {"type": "string"},
                    "create_time": {"type": "integer"},
                    "order": {"type": "integer"},
                    "deleted": {"type": "boolean"},
                    "tag": {"type": "array", "items": TAG},
                },
                "required": ["group_id", "group_name", "create_time", "order", "tag"],
            },
        }
    },
    ["tag_group"],
)

TRANSFER_CUSTOMER = answer(
    {
        "customer": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "external_userid": {"type": "string"},
                    "errcode": {"type": "integer"},
                },
                "required": ["external_userid", "errcode"],
            },
        }
    },
    ["customer"],
)

TRANSFER_RESULT = answer(
    {
        "customer": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "external_userid": {"type": "string"},
                    "status": {"enum": [1, 2, 3, 4]},
                    "takeover_time": {"type": "integer"},
                },
                "required": ["external_userid", "status", "takeover_time"],
            },
        },
        "next_cursor": {"type": "string"},
    },
    ["customer", "next_cursor"],
)
