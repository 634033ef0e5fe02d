// Package kafkalog is the scale-path eventlog.Log: one Kafka topic, read by
// Kafka consumer groups.
//
// Append writes every record with the event's user or device as the
// message key (hashed with Kafka's own murmur2 partitioner, so one key
// always lands in one partition and keeps its order), the event_id in an
// "event_id" header and the canonical wire bytes as the value, and
// returns once every in-sync replica has acknowledged it (acks=all). The
// message timestamp, which readers see as Record.Time and Replay searches
// by, is the time Append was called (Kafka's CreateTime).
//
// A subscription is one member of a Kafka consumer group: it fetches
// messages, and commits their offsets only when told to, after the handler
// succeeded. Lag is, per partition, the high watermark minus the group's
// committed offset. Replay reads the topic from a time on, without a group.
//
// Open checks that the topic exists, and creates it when Config.CreateTopic
// allows; that is the only place it talks to the cluster before the first
// Append or Subscribe.
//
// Adding partitions to the topic later moves some keys to other
// partitions: order per key then holds among the records appended before
// the change and among those appended after it, not across it.
package kafkalog
