package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/config"
	"breakwater/internal/server"
	"breakwater/internal/telemetry"
)

// HTTP server limits. There is deliberately no WriteTimeout: a 1 GiB layer
// on a slow link takes as long as it takes, and the upstream side has its
// own idle timeouts.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	// shutdownTimeout is how long requests in flight get to finish after
	// SIGINT or SIGTERM before their connections are closed.
	shutdownTimeout = 30 * time.Second
)

func newServeCmd(stderr io.Writer, load loader) *cobra.Command {
	var f config.Flags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry API, pulling through to the upstreams",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := load(f)
			if err != nil {
				return err
			}
			log, err := telemetry.NewLogger(stderr, c.Log.Level, c.Log.Format)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), c, log)
		},
	}
	addConfigFlags(cmd, &f)
	return cmd
}

// serve runs breakwater until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, c config.Config, log *slog.Logger) error {
	// 1. Open the stores and build the handler, so that the server is
	//    ready before it listens.
	a, err := server.Build(c, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Close(); err != nil {
			log.Error("close stores", telemetry.KeyError, err)
		}
	}()

	// 2. Listen; an upstream that is down now may be up by the first pull,
	//    so nothing here contacts one.
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The first admin, when there is no admin yet, once the port is ours:
	// its password goes to a file only breakwater's user can read, and
	// the log says where.
	if _, err := a.Bootstrap(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("create the first admin: %w", err)
	}
	logStartup(log, c, ln.Addr())
	a.Start(ctx)

	// 3. Serve until the listener fails or a signal cancels ctx.
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// 4. Stop accepting, let requests in flight finish, then cut the rest.
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown were cut off", telemetry.KeyError, err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// logStartup writes the lines an operator reads first: where breakwater
// listens, where its data is, which upstreams it serves, and what differs
// from the defaults (secrets masked).
func logStartup(log *slog.Logger, c config.Config, addr net.Addr) {
	changed := make([]any, 0, len(c.Changed()))
	for _, s := range c.Changed() {
		changed = append(changed, slog.String(s.Key, s.Value))
	}
	log.Info("breakwater starting",
		telemetry.KeyVersion, versionString(),
		telemetry.KeyAddr, addr.String(),
		telemetry.KeyDataDir, c.Data,
		slog.Group(telemetry.KeyChanged, changed...))
	names := make([]string, len(c.Policies))
	for i, p := range c.Policies {
		names[i] = p.Name
	}
	log.Info("firewall",
		telemetry.KeyMode, c.Firewall.Mode,
		telemetry.KeyRules, len(c.Firewall.Repositories),
		telemetry.KeyPolicies, names,
		telemetry.KeyFeeds, len(c.VulnDB.Feeds))
	for _, u := range c.Upstreams {
		log.Info("upstream",
			telemetry.KeyUpstream, u.Name,
			telemetry.KeyURL, u.URL,
			telemetry.KeyDefault, u.Default,
			telemetry.KeyCredentials, u.Username != "")
	}
	log.Info("listening", telemetry.KeyAddr, addr.String())
}
