package policy

import "breakwater/internal/inventory"

// Default returns the shipped policies, the conservative start: quarantine
// malware and findings scored CVSS 8 or more, and audit every other finding
// that has a fix.
//
// The CVSS policy leaves out findings the distro has judged minor or will
// never fix (no-dsa, ignored, unimportant, will-not-fix): every Debian
// release carries some of those, and quarantining each base image on day
// one would teach operators to turn the firewall off. They are still
// audited once a fix exists.
func Default() Set {
	return Set{
		{
			Name:        "malware",
			Description: "a component or file is known to be malicious",
			Conditions:  Conditions{Malware: true},
			Action:      ActionFail,
		},
		{
			Name:        "cvss-8",
			Description: "a vulnerability scored CVSS 8.0 or more that the vendor has not set aside",
			Conditions: Conditions{
				MinScore: 8,
				ExceptStatus: []string{
					inventory.StatusNoDSA,
					inventory.StatusIgnored,
					inventory.StatusUnimportant,
					inventory.StatusWillNotFix,
				},
			},
			Action: ActionFail,
		},
		{
			Name:        "fixable",
			Description: "a vulnerability with a fixed version available",
			Conditions:  Conditions{Fixable: true},
			Action:      ActionWarn,
		},
	}
}
