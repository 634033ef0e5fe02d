package httpapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Info names the API an OpenAPI document describes.
type Info struct {
	Title, Version, Description string
}

// OpenAPIPath is where the server serves its OpenAPI document.
const OpenAPIPath = "/openapi.json"

// OpenAPIRoute returns the public route GET /openapi.json serving the
// OpenAPI 3.1 document of routes and of itself.
func OpenAPIRoute(info Info, routes []Route) Route {
	self := Route{Method: http.MethodGet, Pattern: OpenAPIPath, Access: Public,
		Summary: "This OpenAPI 3.1 document", Response: map[string]any{}}
	doc, err := json.Marshal(OpenAPI(info, append(routes[:len(routes):len(routes)], self)))
	self.Handler = Mapper{}.Handle(func(*http.Request) (any, error) {
		if err != nil {
			return nil, fmt.Errorf("encode the OpenAPI document: %w", err)
		}
		return json.RawMessage(doc), nil
	})
	return self
}

// OpenAPI returns the OpenAPI 3.1 document of routes, ready for
// json.Marshal: paths with chi's parameters as {name}, methods,
// summaries, security, and the JSON schemas of the bodies, made by
// reflection from the Go types. Fallback routes (no Method) are left out.
func OpenAPI(info Info, routes []Route) map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		if rt.Method == "" || strings.Contains(rt.Pattern, "*") {
			continue
		}
		path, params := openAPIPath(rt.Pattern)
		item := paths[path]
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(rt.Method)] = operation(rt, params)
	}
	i := map[string]any{"title": info.Title, "version": info.Version}
	if info.Description != "" {
		i["description"] = info.Description
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    i,
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "a device token, an API token with a role (admin, auditor), or a content API token"},
				"token": map[string]any{"type": "apiKey", "in": "query", "name": "token",
					"description": "a content API token, instead of the bearer header"},
			},
		},
	}
}

var chiParam = regexp.MustCompile(`\{([^}:]+)(:[^}]*)?\}`)

// openAPIPath turns a chi pattern into an OpenAPI path and its parameter
// names.
func openAPIPath(pattern string) (string, []string) {
	var names []string
	path := chiParam.ReplaceAllStringFunc(pattern, func(m string) string {
		name := chiParam.FindStringSubmatch(m)[1]
		names = append(names, name)
		return "{" + name + "}"
	})
	return path, names
}

func operation(rt Route, pathParams []string) map[string]any {
	op := map[string]any{
		"operationId": operationID(rt),
		"responses":   responses(rt),
	}
	if rt.Summary != "" {
		op["summary"] = rt.Summary
	}
	desc := "Access: " + rt.Access.String() + "."
	switch rt.Access {
	case Public:
		op["security"] = []any{}
	case Device:
		desc += " A bearer device token, or a TLS client certificate whose common name is the device id."
		op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{}}
	case Scoped:
		if len(rt.Scopes) > 0 {
			desc += " Scope: " + strings.Join(rt.Scopes, " or ") + "."
		}
		op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"token": []any{}}}
	default:
		desc += " A bearer API token with that role."
		op["security"] = []any{map[string]any{"bearer": []any{}}}
	}
	op["description"] = desc
	var params []any
	for _, p := range pathParams {
		params = append(params, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.Query {
		params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Request != nil || len(rt.Consumes) > 0 {
		content := map[string]any{}
		if rt.Request != nil {
			content["application/json"] = map[string]any{"schema": Schema(reflect.TypeOf(rt.Request))}
		}
		for _, m := range rt.Consumes {
			content[m] = map[string]any{}
		}
		op["requestBody"] = map[string]any{"content": content}
	}
	return op
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.FieldsFunc(rt.Pattern, func(r rune) bool {
		return r == '/' || r == '{' || r == '}' || r == '.' || r == '-' || r == ':'
	}) {
		b.WriteByte('_')
		b.WriteString(part)
	}
	return b.String()
}

func responses(rt Route) map[string]any {
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	content := map[string]any{}
	if rt.Response != nil {
		content["application/json"] = map[string]any{"schema": Schema(reflect.TypeOf(rt.Response))}
	}
	for _, m := range rt.Produces {
		content[m] = map[string]any{"schema": map[string]any{"type": "string"}}
	}
	if len(content) > 0 {
		ok["content"] = content
	}
	return map[string]any{
		strconv.Itoa(status): ok,
		"default": map[string]any{
			"description": "an error",
			"content":     map[string]any{"application/json": map[string]any{"schema": errorSchema(rt.Family)}},
		},
	}
}

func errorSchema(f Family) map[string]any {
	str := map[string]any{"type": "string"}
	if f == Content {
		return object(map[string]any{"type": str, "message": str}, "type", "message")
	}
	return object(map[string]any{"error": object(map[string]any{"code": str, "message": str}, "code", "message")}, "error")
}

func object(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawType         = reflect.TypeFor[json.RawMessage]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshalType = reflect.TypeFor[encoding.TextMarshaler]()
)

// Schema returns the JSON schema (2020-12, as OpenAPI 3.1 uses it) of
// the JSON encoding/json makes of t's values. Types with their own
// MarshalJSON accept anything, TextMarshalers are strings; fields
// without omitempty are required; pointers, slices and maps may be null.
func Schema(t reflect.Type) map[string]any {
	return schema(t, map[reflect.Type]bool{})
}

func schema(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	switch {
	case t == nil:
		return map[string]any{}
	case t.Kind() == reflect.Pointer:
		return nullable(schema(t.Elem(), seen))
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	case t.Implements(marshalerType), reflect.PointerTo(t).Implements(marshalerType):
		return map[string]any{}
	case t.Implements(textMarshalType), reflect.PointerTo(t).Implements(textMarshalType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nullable(map[string]any{"type": "string", "contentEncoding": "base64"})
		}
		return nullable(map[string]any{"type": "array", "items": schema(t.Elem(), seen)})
	case reflect.Array:
		return map[string]any{"type": "array", "items": schema(t.Elem(), seen)}
	case reflect.Map:
		return nullable(map[string]any{"type": "object", "additionalProperties": schema(t.Elem(), seen)})
	case reflect.Struct:
		if seen[t] {
			return map[string]any{} // a cycle: leave the inner one open
		}
		seen[t] = true
		defer delete(seen, t)
		props, required := map[string]any{}, []string{}
		fields(t, seen, props, &required)
		o := object(props, required...)
		return o
	}
	return map[string]any{}
}

// fields adds t's JSON fields to props, flattening embedded structs as
// encoding/json does.
func fields(t reflect.Type, seen map[reflect.Type]bool, props map[string]any, required *[]string) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				fields(ft, seen, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := schema(ft, seen)
		if strings.Contains(","+opts+",", ",string,") {
			s = map[string]any{"type": "string"}
		}
		props[name] = s
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			*required = append(*required, name)
		}
	}
}

// nullable lets s be null too.
func nullable(s map[string]any) map[string]any {
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
	}
	return s
}
