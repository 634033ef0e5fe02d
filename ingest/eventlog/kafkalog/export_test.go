package kafkalog

import "time"

// SetReadyWindow changes how recent an answer of the cluster Ready trusts.
func SetReadyWindow(l *Log, d time.Duration) { l.readyWindow = d }
