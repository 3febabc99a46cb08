// Package harness starts the real processes that breakwater's end-to-end
// tests, conformance runs and benchmarks need, each bound to 127.0.0.1 on a
// free port, logging to a file under t.TempDir() whose tail is printed when
// the test fails, ready-checked by polling with a bounded deadline, and
// stopped by t.Cleanup. It has no build tag; what it starts must be
// installed (scripts/test does that), and a missing program fails the test.
//
// The API is stable; add to it, don't change it:
//
//	// Upstream: a CNCF distribution registry v3 (`registry` in PATH or ~/go/bin).
//	u := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthToken})
//	    // Auth: AuthNone (default), AuthBasic (htpasswd, bcrypt), AuthToken
//	    // (bearer realm served by an in-process TokenServer, u.Token).
//	    // u.URL, u.Host, u.Username, u.Password, u.Storage
//	u.Stop(t); u.Start(t)        // same port, same storage
//	u.Push(t, "library/debian", "12", img)          // returns v1.Hash
//	u.PushIndex(t, "library/multi", "latest", idx)  // returns v1.Hash
//	u.Ref(repo, tagOrDigest), u.Authenticator(), u.RemoteOptions()
//
//	// Counting reverse proxy in front of anything.
//	p := harness.StartCountingProxy(t, u.URL)
//	p.Count("GET", "/v2/library/debian/blobs/sha256:..."), p.BlobGETs(repo),
//	p.Counts(), p.Reset(), p.String(), p.Stop(t), p.Start(t) // same port
//
//	// Breakwater, built once per test process from this checkout
//	// (or $BREAKWATER_BIN), with a temp data dir.
//	b := harness.StartBreakwaterFor(t, u, p.URL) // holds u's credentials
//	b := harness.StartBreakwater(t, harness.BreakwaterOptions{Upstream: ..., Username: ..., Password: ..., Env: ..., Args: ...})
//	b.URL, b.Host, b.DataDir, b.Ref(repo, ref), b.Stop(t), b.Start(t)
//	    // Firewall: "audit" or "quarantine" (--firewall; empty = off), or
//	    // ConfiguredFirewall: true to leave --firewall out so Config's modes and rules apply.
//	    // AccessControl: true keeps anonymous pulls off (the harness turns them on otherwise).
//	b.Process().PID()            // for /proc/PID (peak memory)
//
//	// Images.
//	img := harness.NewImage(t, harness.ImageSpec{Format: harness.OCI, Layers: 2, LayerSize: 4096, Platform: &harness.LinuxARM64})
//	idx := harness.NewIndex(t, harness.Docker, harness.LinuxAMD64, harness.LinuxARM64)
//	harness.PlatformDigest(t, idx, harness.LinuxARM64), harness.Digest(t, img), harness.Blobs(t, img)
//	harness.Assemble(t, format, platform, cmd, layers...)
//	harness.Push(t, ref, img, opts...), harness.PushIndex(t, ref, idx, opts...)
//	deb := harness.DebianImage(t, harness.Docker) // debootstrap bookworm minbase, cached
//	harness.DebianRootfs(t)                        // path of the cached rootfs tar
//
//	// Clients, each with private state (run as root), and Err variants
//	// (PullErr, CopyErr) that return instead of failing, for goroutines.
//	d := harness.StartDockerd(t, harness.DockerdOptions{Mirrors: []string{b.URL}})
//	d.Pull(t, ref, "linux/arm64"), d.RepoDigests(t, ref), d.ImageID(t, ref), d.Remove(t, ref), d.RemoveAll(t), d.Docker(t, args...)
//	d.Login(t, b.Host, user, password), d.LoginErr(host, user, password), d.Logout(t, b.Host)
//	c := harness.StartContainerd(t)
//	c.Pull(t, ref, platform, "--hosts-dir", harness.MirrorHostsDir(t, "docker.io", b.URL)), c.ImageDigest(t, ref), c.Content(t), c.RemoveAll(t), c.Ctr(t, args...)
//	p := harness.NewPodman(t, harness.PodmanOptions{DockerHubMirror: b.Host})
//	p.Pull(t, ref, platform), p.Digest(t, ref), p.ImageID(t, ref), p.RepoDigests(t, ref), p.RemoveAll(t)
//	s := harness.NewSkopeo(t)
//	s.InspectDigest(t, ref), s.Copy(t, ref, "oci:DIR:tag", "--override-arch", "arm64")
//	harness.OCILayoutDigest(t, dir), harness.DirManifestDigest(t, dir)
//
//	// Generic processes and helpers.
//	harness.StartProcess(t, &harness.Process{Name: ..., Path: ..., Args: ..., Ready: harness.HTTPReady(url, 200)})
//	harness.FreePort(t), harness.HostPort(port), harness.LookPath(t, "skopeo"),
//	harness.SocketReady(path), harness.ModuleRoot(), harness.CacheDir(t)
//	harness.Run(t, timeout, name, args...), harness.RunErr(timeout, name, args...)
//
// Environment: BREAKWATER_BIN (prebuilt binary), BREAKWATER_E2E_CACHE
// (fixture cache, default ~/.cache/breakwater-e2e), BREAKWATER_DEBIAN_MIRROR.
package harness
