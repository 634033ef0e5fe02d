// Package sample generates realistic audit events, the same ones for the
// same seed: the data set of the store benchmarks (vigil bench store and
// the stores' testing.B) and of tests that need many events.
//
// Sample may import schema.
package sample
