package proxy

import "testing"

// TestParseRange checks nginx's reading of a "bytes=" Range value for a
// file of 100 bytes.
func TestParseRange(t *testing.T) {
	tests := []struct {
		spec       string
		start, end int64
		verdict    int
	}{
		{"0-9", 0, 10, rangeOne},
		{"90-", 90, 100, rangeOne},
		{"-10", 90, 100, rangeOne},
		{"-200", 0, 100, rangeOne},
		{"95-200", 95, 100, rangeOne},
		{" 1 - 2 ", 1, 3, rangeOne},
		{"100-", 0, 0, rangeUnsatisfiable},
		{"100-200", 0, 0, rangeUnsatisfiable},
		{"x", 0, 0, rangeUnsatisfiable},
		{"1-2x", 0, 0, rangeUnsatisfiable},
		{"-", 0, 0, rangeUnsatisfiable},
		{"0-1,5-6", 0, 0, rangeWhole},
		{"0-99,0-99", 0, 0, rangeWhole},
		{"5-1", 0, 0, rangeUnsatisfiable},
		{"0-0", 0, 1, rangeOne},
		{"99999999999999999999-", 0, 0, rangeUnsatisfiable},
		{"200-300,0-9", 0, 10, rangeOne},
	}
	for _, tc := range tests {
		start, end, verdict := parseRange([]byte(tc.spec), 100)
		if verdict != tc.verdict || verdict == rangeOne && (start != tc.start || end != tc.end) {
			t.Errorf("parseRange(%q) = %d, %d, %d; want %d, %d, %d", tc.spec, start, end, verdict, tc.start, tc.end, tc.verdict)
		}
	}
}
