extension EventSchema {
    /// This event's properties as a JSON Schema (draft 2020-12) document.
    public var jsonSchema: JSONValue {
        var properties: JSONObject = [:]
        for member in members {
            var property = member.field.rule.jsonSchema
            property["description"] = .string(member.field.summary)
            properties[member.field.key] = .object(property)
        }
        return .object([
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": .string("urn:tally:event:\(name)"),
            "title": .string(name),
            "description": .string(summary),
            "x-tally-family": .string(family.rawValue),
            "type": "object",
            "properties": .object(properties),
            "required": .array(members.filter(\.isRequired).map { .string($0.field.key) }),
            "additionalProperties": false,
        ])
    }
}

extension FieldRule {
    /// The JSON Schema keywords that express this rule.
    var jsonSchema: JSONObject {
        switch kind {
        case .identifier(let maxLength):
            ["type": "string", "minLength": 1, "maxLength": .int(maxLength), "pattern": "^[A-Za-z0-9_.:-]+$"]
        case .slug(let maxLength):
            ["type": "string", "minLength": 1, "maxLength": .int(maxLength), "pattern": "^[a-z0-9_.-]+$"]
        case .text(let maxLength):
            ["type": "string", "minLength": 1, "maxLength": .int(maxLength)]
        case .path(let maxLength):
            ["type": "string", "maxLength": .int(maxLength), "pattern": "^/[^\\s]*$"]
        case .oneOf(let values):
            ["type": "string", "enum": .array(values.map(JSONValue.string))]
        case .boolean:
            ["type": "boolean"]
        case .integer(let range):
            range.upperBound == .max
                ? ["type": "integer", "minimum": .int(range.lowerBound)]
                : ["type": "integer", "minimum": .int(range.lowerBound), "maximum": .int(range.upperBound)]
        case .number(let range):
            range.upperBound == .greatestFiniteMagnitude
                ? ["type": "number", "minimum": .double(range.lowerBound)]
                : ["type": "number", "minimum": .double(range.lowerBound), "maximum": .double(range.upperBound)]
        case .slugList(let maxCount, let maxLength):
            ["type": "array", "maxItems": .int(maxCount),
             "items": ["type": "string", "minLength": 1, "maxLength": .int(maxLength), "pattern": "^[a-z0-9_.-]+$"]]
        }
    }
}
