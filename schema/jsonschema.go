package schema

import (
	"encoding/json"
	"strings"
)

// JSONSchemaID is the $id of the generated JSON Schema.
const JSONSchemaID = "https://vigil.example/schema/event.json"

// JSONSchema returns a JSON Schema (draft 2020-12) that accepts every
// event in Vigil's wire form and rejects events that break the catalog:
// an unknown event, a missing required field, a value of the wrong type
// or form. Fields outside the catalog are allowed, as Normalize keeps
// them.
func JSONSchema() ([]byte, error) {
	type obj = map[string]any
	defs := obj{
		"hex32":     obj{"type": "string", "pattern": "^[0-9a-f]{32}$"},
		"timestamp": obj{"type": "string", "pattern": `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$`},
		"user_id":   obj{"type": "string", "pattern": `^(:\S+|[^\sA-Z]+@[^\sA-Z@]+)$`, "description": "a lower-cased email, or a pseudo-user id starting with ':'"},
		"email":     obj{"type": "string", "pattern": `^[^\sA-Z]+@[^\sA-Z@]+$`},
		"verified_submitter": obj{
			"type": "object", "additionalProperties": false, "required": []string{"user_id", "device_id"},
			"properties": obj{"user_id": obj{"type": "string"}, "device_id": obj{"type": "string"}},
		},
		"soid": obj{
			"type": "object", "additionalProperties": false, "required": []string{"sid", "oid"},
			"properties": obj{"sid": ref("hex32"), "oid": ref("hex32")},
		},
		"path": obj{
			"type": "object", "additionalProperties": false, "required": []string{"sid", "relative_path"},
			"properties": obj{"sid": ref("hex32"), "relative_path": obj{"type": "string", "not": obj{"pattern": `(^/|/$|//|(^|/)\.\.?(/|$))`}}},
		},
		"caller": obj{
			"type": "object", "additionalProperties": false, "required": []string{"email"},
			"properties": obj{"email": ref("user_id"), "device": ref("hex32"), "acting_as": ref("user_id")},
		},
		"shared_folder": obj{
			"type": "object", "additionalProperties": false, "required": []string{"id"},
			"properties": obj{"id": ref("hex32"), "name": obj{"type": "string"}},
		},
		"role": obj{
			"description": "a sorted set of permissions; [] is a viewer, null unknown",
			"enum":        []any{nil, []string{}, []string{"MANAGE"}, []string{"WRITE"}, []string{"MANAGE", "WRITE"}},
		},
		"operations": obj{
			"type": "array", "minItems": 1, "uniqueItems": true,
			"items": obj{"enum": enumOperations.values},
		},
		"ip":          obj{"type": "string", "anyOf": []any{obj{"format": "ipv4"}, obj{"format": "ipv6"}}},
		"org_id":      obj{"type": "string", "minLength": 1},
		"link_key":    obj{"type": "string", "pattern": `^[^\s/?#]+$`},
		"link_expiry": obj{"type": "integer", "minimum": 0, "description": "seconds the link stays valid from the event's timestamp"},
		"integer":     obj{"type": "integer", "minimum": 0},
		"boolean":     obj{"type": "boolean"},
		"string":      obj{"type": "string"},
	}
	for _, t := range []Type{TypeDeviceType, TypeAuthority, TypeOrgLevel, Type2FALevel, TypeJoinAs} {
		defs[string(t)] = obj{"enum": enumOf(t).values}
	}

	var topicNames []string
	for _, t := range topics {
		topicNames = append(topicNames, string(t))
	}
	var alternatives []any
	for i := range catalog {
		s := &catalog[i]
		props := obj{
			"topic": obj{"const": s.Topic},
			"event": obj{"const": s.Name},
		}
		var required []string
		for _, f := range s.Fields {
			props[f.Name] = ref(defName(f.Type))
			if !f.Optional {
				required = append(required, f.Name)
			}
		}
		alt := obj{"title": s.Name, "description": s.Doc, "properties": props}
		if len(required) > 0 {
			alt["required"] = required
		}
		alternatives = append(alternatives, alt)
	}
	doc := obj{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         JSONSchemaID,
		"title":       "Vigil audit event",
		"description": "One audit event in Vigil's canonical wire form: the envelope, then the event's catalog fields, then any other fields.",
		"type":        "object",
		"required":    []string{"topic", "event", "timestamp", "event_id"},
		"properties": obj{
			"topic":              obj{"enum": topicNames},
			"event":              obj{"type": "string"},
			"timestamp":          ref("timestamp"),
			"event_id":           obj{"type": "string", "pattern": `^[0-9A-Za-z_.:-]{1,64}$`},
			"received_at":        ref("timestamp"),
			"verified_submitter": ref("verified_submitter"),
		},
		"oneOf": alternatives,
		"$defs": defs,
	}
	return json.MarshalIndent(doc, "", "  ")
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/$defs/" + name} }

func defName(t Type) string {
	switch t {
	case TypeSID, TypeOID, TypeDID:
		return "hex32"
	case TypeTime:
		return "timestamp"
	case TypeSubmitter:
		return "verified_submitter"
	}
	return strings.ToLower(string(t))
}
