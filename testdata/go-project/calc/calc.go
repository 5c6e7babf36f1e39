// Package calc is a small package whose tests shardkit's go preset runs.
package calc

// Add adds.
func Add(a, b int) int { return a + b }
