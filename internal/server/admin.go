package server

import (
	"fmt"
	"log/slog"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/telemetry"
)

// Admin is the firewall over the stores of a data directory, without a
// cache: what the quarantine, audit and vulndb commands need, which judge
// no new image but may judge stored inventories again. The
// stores are the ones serve uses, and the firewall reads them on every
// request, so a change made here is in force on a running server at once.
type Admin struct {
	*firewall.Firewall
	s *Server
}

// OpenAdmin opens the stores under c.Data for administering quarantine
// records. Without a cache, the firewall does not mark the store as
// guarded, so an admin command changes nothing about which images count as
// cached before the firewall. A nil log discards. Close it when done.
func OpenAdmin(c config.Config, log *slog.Logger) (_ *Admin, err error) {
	s := &Server{config: c, log: telemetry.OrDiscard(log)}
	if err := s.openStores(c.Data); err != nil {
		s.closeStores()
		return nil, err
	}
	fw, err := firewall.New(firewall.Options{
		Meta:     s.meta,
		Store:    s.meta,
		Blobs:    s.blobs,
		VulnDB:   s.vulndb,
		Policies: c.Policies,
		Settings: c.Firewall.Firewall,
		Logger:   s.log,
	})
	if err != nil {
		s.closeStores()
		return nil, err
	}
	return &Admin{Firewall: fw, s: s}, nil
}

// Accounts returns the access control and the administration facade over
// the same stores, for the user and token commands. They are built on the
// first call: auth.New hashes a password, which the other commands need not
// wait for.
func (a *Admin) Accounts() (*auth.Service, *admin.Service, error) {
	if a.s.admin == nil {
		as, err := auth.New(auth.Options{
			Store: a.s.meta, Logger: a.s.log,
			SessionTTL: a.s.config.Auth.SessionTTL, LoginLimit: a.s.config.Auth.LoginLimit,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("open access control: %w", err)
		}
		a.s.auth = as
		a.s.admin = admin.New(admin.Options{
			Auth: as, Firewall: a.Firewall, Meta: a.s.meta, Records: a.s.meta,
			VulnDB: a.s.vulndb, Config: a.s.config, Logger: a.s.log,
		})
	}
	return a.s.auth, a.s.admin, nil
}

// Close closes the firewall and the stores.
func (a *Admin) Close() error {
	a.Firewall.Close()
	return a.s.closeStores()
}
