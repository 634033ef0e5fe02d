// Package detect is Vigil's leak detections: rules, written as
// configuration, that watch the event log as its consumer group "detect"
// and raise alerts (alert.raised events, topic ALERT) through the same
// in-process Emit as the content API's events.
//
// A rule matches events with a CEL expression over the event's wire
// fields, groups them (group_by), and fires on one of three kinds: a
// threshold (a count, a number of distinct values or a sum within a
// hopping window), a sequence (steps that follow one another within a
// time) or a baseline (today's value against the group's own daily
// history). Windows count events by their timestamp, not their arrival.
//
// The engine's state (window buckets, distinct sets, sequence marks, the
// daily series and the alerts it raised) is checkpointed in the data
// directory with the log offsets it covers, so a restart resumes with it;
// alert ids derive from the rule, the group and the aligned start of the
// window that crossed, so a redelivered batch or a replay raises the same
// alert, never a second one.
package detect
