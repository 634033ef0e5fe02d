package schema_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/schema"
)

// typicalTransfer is a desktop client's file.transfer as the original
// service received it (about 580 bytes, no event_id).
var typicalTransfer = []byte(`{"topic":"FILE","event":"file.transfer","timestamp":"2016-03-30T21:18:19.123+0000",` +
	`"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"4e0375957f304b9bbfcddbf87f10b5d2"},` +
	`"event_time":"2016-03-30T21:18:19.044Z","operations":["META_REQUEST","CONTENT_REQUEST","CONTENT_COMPLETED"],` +
	`"device":"40f9cddab98a432b9c60d734f5f63e7e",` +
	`"path":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"Engineering/Roadmaps/2016/Q2 planning/overview-final.pdf"},` +
	`"path_to":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"Engineering/Roadmaps/2016/Q2 planning/archive/overview-final.pdf"},` +
	`"destination_device":"b88a707bd70586f7a9f2dfc8fee2def5","destination_user":"bob.jones@example.com"}`)

var benchMeta = schema.Meta{
	Submitter:  schema.Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"},
	ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
}

// BenchmarkNormalize is decode + validate + normalize + canonical encode
// with Vigil's normalizer (fastjson underneath). Target: 1 us per event.
func BenchmarkNormalize(b *testing.B) {
	n := schema.NewNormalizer(schema.Limits{})
	b.SetBytes(int64(len(typicalTransfer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Normalize(typicalTransfer, benchMeta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeParallel runs the pooled Normalize on every core.
func BenchmarkNormalizeParallel(b *testing.B) {
	b.SetBytes(int64(len(typicalTransfer)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := schema.Normalize(typicalTransfer, benchMeta); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// transferStruct is what a struct-based decoder would fill: the baselines
// below only decode, they do not validate or normalize anything.
type transferStruct struct {
	Topic     string `json:"topic"`
	Event     string `json:"event"`
	Timestamp string `json:"timestamp"`
	SOID      struct {
		SID string `json:"sid"`
		OID string `json:"oid"`
	} `json:"soid"`
	EventTime  string   `json:"event_time"`
	Operations []string `json:"operations"`
	Device     string   `json:"device"`
	Path       struct {
		SID          string `json:"sid"`
		RelativePath string `json:"relative_path"`
	} `json:"path"`
	PathTo *struct {
		SID          string `json:"sid"`
		RelativePath string `json:"relative_path"`
	} `json:"path_to"`
	DestinationDevice string `json:"destination_device"`
	DestinationUser   string `json:"destination_user"`
}

func benchDecode(b *testing.B, unmarshal func([]byte, any) error) {
	b.SetBytes(int64(len(typicalTransfer)))
	b.ReportAllocs()
	for b.Loop() {
		var v transferStruct
		if err := unmarshal(typicalTransfer, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// The baselines: decode alone into a struct.
func BenchmarkDecodeStruct_EncodingJSON(b *testing.B) { benchDecode(b, json.Unmarshal) }
func BenchmarkDecodeStruct_GoccyJSON(b *testing.B)    { benchDecode(b, gojson.Unmarshal) }
func BenchmarkDecodeStruct_Sonic(b *testing.B)        { benchDecode(b, sonic.Unmarshal) }

// BenchmarkParse_Fastjson is strict validation plus parsing alone, the
// floor under BenchmarkNormalize.
func BenchmarkParse_Fastjson(b *testing.B) {
	var p fastjson.Parser
	b.SetBytes(int64(len(typicalTransfer)))
	b.ReportAllocs()
	for b.Loop() {
		if err := fastjson.ValidateBytes(typicalTransfer); err != nil {
			b.Fatal(err)
		}
		if _, err := p.ParseBytes(typicalTransfer); err != nil {
			b.Fatal(err)
		}
	}
}
