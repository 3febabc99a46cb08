# seed.sh fills the upstream registry with the images scripts/bench pulls. Sourced, not run.
#
# The blob images have one uncompressed layer of random bytes, so the layer is exactly the size
# named and compression costs nothing on either side; the Debian image is a real minbase rootfs
# appended by crane, gzipped like any pushed image.

# make_layer FILE BYTES writes a tar of exactly BYTES bytes holding one random file.
make_layer() {
	local file=$1 bytes=$2 dir
	dir=$(mktemp -d "$work/layer.XXXXXX")

	# One 512-byte header, the data, and the 1024-byte end marker; a blocking factor of one
	# keeps tar from padding past that.
	head -c $((bytes - 1536)) /dev/urandom >"$dir/random"
	tar --blocking-factor=1 --numeric-owner --owner=0 --group=0 --mtime='2023-01-01 00:00:00Z' \
		-C "$dir" -cf "$file" random
	rm -rf "$dir"
	[[ $(stat -c %s "$file") == "$bytes" ]] || die "layer $file is not $bytes bytes"
}

# push_blob REPO FILE uploads FILE monolithically and prints its digest.
push_blob() {
	local repo=$1 file=$2 digest loc sep
	digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
	loc=$(curl -sS -f -m 30 -X POST -D - -o /dev/null "$upstream/v2/$repo/blobs/uploads/" |
		awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
	[[ -n $loc ]] || die "no upload location for $repo"
	[[ $loc == http* ]] || loc=$upstream$loc
	sep='?'
	[[ $loc == *\?* ]] && sep='&'
	curl -sS -f -m 600 -o /dev/null -T "$file" -H 'Content-Type: application/octet-stream' \
		"$loc${sep}digest=$digest" || die "upload $file to $repo"
	echo "$digest"
}

# push_blob_image REPO TAG LAYER pushes a one-layer OCI image and prints the manifest digest.
push_blob_image() {
	local repo=$1 tag=$2 layer=$3 layer_digest layer_size config config_digest manifest
	layer_digest=$(push_blob "$repo" "$layer")
	layer_size=$(stat -c %s "$layer")

	# The layer is an uncompressed tar, so its diff ID is its digest.
	config=$work/files/$tag.config.json
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
		"$layer_digest" >"$config"
	config_digest=$(push_blob "$repo" "$config")

	manifest=$work/files/$tag.manifest.json
	printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$config_digest\",\
\"size\":$(stat -c %s "$config")},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\
\"digest\":\"$layer_digest\",\"size\":$layer_size}]}" >"$manifest"
	curl -sS -f -m 30 -o /dev/null -X PUT --data-binary "@$manifest" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		"$upstream/v2/$repo/manifests/$tag" || die "push manifest $repo:$tag"
	echo "sha256:$(sha256sum "$manifest" | cut -d' ' -f1)"
}

# seed_upstream pushes the three images and sets the digests the measurements check against.
seed_upstream() {
	mkdir -p "$work/files" "$work/www"
	log "seed: random layers of 100 MiB and 1 GiB"
	make_layer "$work/www/blob-100m" $((100 << 20))
	make_layer "$work/www/blob-1g" $((1 << 30))
	blob_100m=sha256:$(sha256sum "$work/www/blob-100m" | cut -d' ' -f1)
	blob_1g=sha256:$(sha256sum "$work/www/blob-1g" | cut -d' ' -f1)

	log "seed: push bench/blob:100m and bench/blob:1g"
	push_blob_image bench/blob 100m "$work/www/blob-100m" >/dev/null
	push_blob_image bench/blob 1g "$work/www/blob-1g" >/dev/null

	log "seed: push library/debian:12"
	local rootfs
	rootfs=$("$here/bench.d/debian-rootfs")
	timeout 600 crane append --insecure -f "$rootfs" -t "127.0.0.1:$upstream_port/library/debian:12" \
		>>"$work/logs/seed.log" 2>&1 || die "crane append (see $work/logs/seed.log)"
	debian_digest=$(crane digest --insecure "127.0.0.1:$upstream_port/library/debian:12")
}
