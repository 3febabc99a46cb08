package server

import (
	"log/slog"

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

// Close closes the firewall and the stores.
func (a *Admin) Close() error {
	a.Firewall.Close()
	return a.s.closeStores()
}
