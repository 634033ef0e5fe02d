package detect

// State is everything the engine remembers between events, checkpointed
// with the log offsets it covers. Times are Unix milliseconds.
type State struct {
	// Offsets is, per partition, the offset of the last record the state
	// holds; a redelivered record at or before it is skipped.
	Offsets map[int]int64
	// Watermark is the newest arrival (received_at) seen.
	Watermark int64
	// Now is the newest event timestamp seen: the clock absent sequence
	// steps wait on.
	Now int64
	// Late counts events skipped for being older than the late horizon.
	Late int64
	// Rules holds each rule's groups, by rule name.
	Rules map[string]*RuleState
}

// RuleState is one rule's groups, by group key.
type RuleState struct {
	Groups map[string]*GroupState
	// NextDue is the earliest deadline of an absent step a group waits
	// on; 0 when none waits.
	NextDue int64
}

// GroupState is one group of one rule.
type GroupState struct {
	// Values are the group's values, in group_by order.
	Values []string
	// Buckets are a threshold's hops, by hop index (start / hop).
	Buckets map[int64]*Bucket
	// Days are a baseline's UTC days, by day index.
	Days map[int64]*Bucket
	// FirstDay is the first day the baseline saw the group.
	FirstDay int64
	// Steps are a sequence's matching events per step, in time order.
	Steps [][]Mark
	// Due are the deadlines of an absent step: when the last present
	// step's marks wait to be checked.
	Due []int64
	// Raised are the window starts of the alerts raised for the group.
	Raised []int64
	// Novel is a novel rule's values, with the newest time each was seen.
	Novel map[string]int64
	// First is when a novel rule first saw the group (valid with Novel).
	First int64
	// Seen is the newest event time of the group.
	Seen int64
}

// Bucket aggregates the events of one hop or day.
type Bucket struct {
	Count    int64
	Sum      int64
	Distinct map[string]bool
	// Events counts a recap's events by name.
	Events map[string]int64
	// Evidence are up to maxEvidence event ids.
	Evidence []string
}

// Mark is one event that matched a sequence step.
type Mark struct {
	At int64
	ID string
}

func newState() *State {
	return &State{Offsets: map[int]int64{}, Rules: map[string]*RuleState{}}
}
