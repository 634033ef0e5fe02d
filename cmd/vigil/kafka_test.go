package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
)

// TestServe_KafkaLog runs serve with log.kafka against an in-process
// Kafka (kfake): a batch posted to ingest is acknowledged only once it is
// in the topic, keyed by user and with its event_id.
func TestServe_KafkaLog(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	dataDir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	cfg := fmt.Sprintf("log:\n  kafka:\n    brokers: [%s]\n    topic: audit\n    create_topic: true\n    partitions: 3\n", cluster.ListenAddrs()[0])
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	devToken := addDevice(t, dataDir, "kafka@example.com", "k")
	addr, _, stop := startServe(t, "--config", cfgFile, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	body := crashEvent("kafka-1", 1) + "\n" + crashEvent("kafka-2", 2)
	res, status, err := post(http.DefaultClient, addr, devToken, []byte(body))
	if err != nil || status != http.StatusAccepted || res.Accepted != 2 {
		t.Fatalf("post: %d %+v %v", status, res, err)
	}
	stop()

	l, err := kafkalog.Open(context.Background(), kafkalog.Config{Brokers: cluster.ListenAddrs(), Topic: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Replay(ctx, time.Time{}, func(r eventlog.Record) error {
		if strings.Contains(string(r.Value), `"event":"user.signin"`) {
			ids[r.ID] = string(r.Key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ids["kafka-1"] != "kafka@example.com" || ids["kafka-2"] != "kafka@example.com" {
		t.Errorf("records in the topic: %v", ids)
	}
}
