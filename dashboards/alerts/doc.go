// Package alerts is the lifecycle of the alerts the detection engine
// raises: their states (open, acknowledged, resolved, dismissed) in the
// metadata database (migration component "alerts"), each change
// committed with its alert.state event in the credential store's outbox
// (auth.Store.Audited), and the audit API routes that list and change
// them.
//
// Where the alerts come from: the detector's emitter is wrapped
// (Recording) so that every alert.raised event, once durable in the log,
// is also recorded here before the detector's offset moves. Alert ids
// derive from what raised them, and a recorded alert is never recorded
// twice (an insert that finds the id keeps the row, and its state), so a
// restart, a redelivered batch or a replay from the start of the log
// leaves exactly one row per alert.
//
// Dismissing an alert about oneself (the alert's user is the caller)
// raises an alert of its own, rule self-dismissal, whose id derives from
// the dismissed alert's id: it commits with the change.
package alerts
