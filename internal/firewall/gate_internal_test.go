package firewall

import (
	"testing"

	"breakwater/internal/policy"
)

// TestBlocks pins which stored results withhold an image under the
// settings in force.
func TestBlocks(t *testing.T) {
	quarantine := policy.Settings{Mode: policy.ModeQuarantine}
	failOpen := policy.Settings{Mode: policy.ModeQuarantine, FailOpen: true}
	audit := policy.Settings{Mode: policy.ModeAudit}
	tests := []struct {
		result policy.Result
		set    policy.Settings
		want   bool
	}{
		{policy.ResultAllow, quarantine, false},
		{policy.ResultAudit, quarantine, false},
		{policy.ResultQuarantine, quarantine, true},
		{policy.ResultQuarantine, failOpen, true},
		{policy.ResultQuarantine, audit, false},
		{policy.ResultInspectionFailed, quarantine, true},
		{policy.ResultInspectionFailed, failOpen, false},
		{policy.ResultInspectionFailed, audit, false},
		{"unknown", quarantine, true},
		{"unknown", audit, false},
	}
	for _, tt := range tests {
		if got := blocks(tt.result, tt.set); got != tt.want {
			t.Errorf("blocks(%s, %+v) = %v, want %v", tt.result, tt.set, got, tt.want)
		}
	}
}
