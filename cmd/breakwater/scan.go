package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"breakwater/internal/cache"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/oci"
	"breakwater/internal/server"
)

// errWithheld makes scan exit non-zero when the verdict withholds the
// image; main prints it as the last line.
var errWithheld = errors.New("image withheld by the firewall")

func newScanCmd(stdout io.Writer, load loader) *cobra.Command {
	var f config.Flags
	var format, platform string
	cmd := &cobra.Command{
		Use:   "scan IMAGE",
		Short: "Judge an image through the firewall and print the verdict and evidence",
		Long: `Scan fetches IMAGE through the configured upstreams into the cache under
--data, inspects it, matches it against the vulnerability data and applies the
configured policies, exactly as a first pull through serve would, and stores
the verdict. IMAGE is written as clients write it: debian:12,
library/debian:12, ghcr.io/org/app:1 or app@sha256:... It exits non-zero when
the image is withheld (quarantined, or its inspection failed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := load(f)
			if err != nil {
				return err
			}
			return scanImage(cmd.Context(), stdout, c, args[0], platform, format)
		},
	}
	addDataFlag(cmd, &f)
	cmd.Flags().StringVar(&f.Upstream, "upstream", "", "`URL` of the default upstream, as serve --upstream takes it (default the configured one)")
	cmd.Flags().StringVar((*string)(&f.Firewall), "firewall", "", "firewall `mode` to judge in, overriding the configuration: audit or quarantine")
	cmd.Flags().StringVar(&platform, "platform", "linux/amd64", "`os/arch[/variant]` to judge when IMAGE is a multi-platform index")
	addFormatFlag(cmd, &format)
	return cmd
}

// scanResult is what scan --format json prints: the judgement, and the
// quarantine record's id when the image is quarantined. Scripts and the
// end-to-end tests read its keys: add keys, never rename them.
type scanResult struct {
	Image        string `json:"image"`
	QuarantineID string `json:"quarantine_id,omitempty"`
	firewall.Judgement
}

func scanImage(ctx context.Context, stdout io.Writer, c config.Config, image, platform, format string) error {
	// 1. Build breakwater as serve would, and route the name as a pull.
	s, err := server.Build(c, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	fw := s.Firewall()
	if fw == nil {
		return errors.New("scan: the firewall is off for every repository; set firewall.mode or pass --firewall audit|quarantine")
	}
	name, ref, err := parseImage(image)
	if err != nil {
		return err
	}
	repo, err := s.Router().Route(name, "")
	if err != nil {
		return fmt.Errorf("route %s: %w", name, err)
	}

	// 2. Resolve the manifest, and the platform's from an index.
	ctx = firewall.WithRequester(ctx, firewall.Requester{User: actor()})
	m, err := s.Cache().Manifest(ctx, repo, ref)
	if err != nil {
		return fmt.Errorf("fetch manifest of %s: %w", image, err)
	}
	if m, err = platformManifest(ctx, s.Cache(), repo, m, platform); err != nil {
		return err
	}

	// 3. Judge it as a first pull would, waiting as long as it takes.
	j, err := fw.Judge(ctx, repo, ref, m)
	if err != nil {
		return err
	}
	res := scanResult{Image: image, Judgement: j}
	recs, err := fw.List(ctx, firewall.Filter{Repo: j.Repo, Digest: j.Digest}, 0, 1)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		res.QuarantineID = recs[0].ID
	}

	// 4. Print, and fail when the image is withheld.
	if format == "json" {
		err = writeJSON(stdout, res)
	} else {
		err = printScan(stdout, res)
	}
	if err != nil {
		return err
	}
	if !j.Served {
		return fmt.Errorf("%s: %w (%s)", image, errWithheld, j.Result)
	}
	return nil
}

func printScan(w io.Writer, r scanResult) error {
	fmt.Fprintf(w, "image:       %s\nrepository:  %s\ndigest:      %s\n", r.Image, r.Repo, r.Digest)
	switch {
	case !r.Served:
		fmt.Fprintf(w, "withheld:    quarantine id %s\n", dash(r.QuarantineID))
	case r.Result.Blocks():
		fmt.Fprintf(w, "released:    quarantine id %s\n", dash(r.QuarantineID))
	}
	if r.BeforeFirewall {
		fmt.Fprintln(w, "note:        cached before the firewall was on, so audited rather than withheld")
	}
	return printEvidence(w, r.Evidence)
}

// parseImage splits an image as clients write it into the repository name
// and the reference: name@digest, name:tag, or name (tag latest). As with
// docker, a digest wins over a tag written beside it (name:tag@digest).
func parseImage(s string) (string, oci.Reference, error) {
	name, ref, digested := strings.Cut(s, "@")
	tag := "latest"
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	if !digested {
		ref = tag
	}
	if err := oci.ValidateName(name); err != nil {
		return "", oci.Reference{}, fmt.Errorf("image %q: %w", s, err)
	}
	r, err := oci.ParseReference(ref)
	if err != nil {
		return "", oci.Reference{}, fmt.Errorf("image %q: %w", s, err)
	}
	return name, r, nil
}

// platformManifest returns m, or when m is an index the manifest of its
// entry for platform (os/arch[/variant]), as a client on it would pull.
func platformManifest(ctx context.Context, ca *cache.Cache, repo cache.Repo, m *cache.Manifest, platform string) (*cache.Manifest, error) {
	var idx struct {
		Manifests []struct {
			oci.Descriptor
			Platform *struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
				Variant      string `json:"variant"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if !oci.IsIndex(m.MediaType) {
		return m, nil
	}
	if err := json.Unmarshal(m.Body, &idx); err != nil {
		return nil, fmt.Errorf("parse index %s: %w", m.Digest, err)
	}
	for _, e := range idx.Manifests {
		if e.Platform == nil {
			continue
		}
		p := e.Platform.OS + "/" + e.Platform.Architecture
		if p == platform || p+"/"+e.Platform.Variant == platform {
			ref, err := oci.ParseReference(e.Digest.String())
			if err != nil {
				return nil, err
			}
			return ca.Manifest(ctx, repo, ref)
		}
	}
	return nil, fmt.Errorf("index %s has no manifest for platform %s", m.Digest, platform)
}
