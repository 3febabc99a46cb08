# report.sh turns the samples scripts/bench records into medians, target checks and tables.
# Sourced, not run.
#
# samples.tsv  section, server, run, value, unit: one line per measurement
# summary.tsv  section, server, median, min, max, n, unit
# targets.tsv  target, ratio, limit, met (yes, no, n/a), detail
# machine.tsv  key, value
# summary.json all three as JSON; summary.md the tables for docs/benchmarks.md

record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$out/samples.tsv"
}

# summarize prints summary.tsv rows from samples.tsv (mawk has no sort, so sort(1) orders the
# values and awk takes the middle of each run of equal keys).
summarize() {
	sort -t $'\t' -k1,1 -k2,2 -k4,4g "$out/samples.tsv" | awk -F '\t' -v OFS='\t' '
		function flush() {
			if (n == 0) return
			med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			print sec, srv, med, v[1], v[n], n, unit
		}
		$1 != sec || $2 != srv { flush(); n = 0; sec = $1; srv = $2 }
		{ v[++n] = $4; unit = $5 }
		END { flush() }'
}

# med SECTION SERVER prints the median from summary.tsv, or nothing when there is none.
med() {
	awk -F '\t' -v s="$1" -v v="$2" '$1 == s && $2 == v {print $3}' "$out/summary.tsv"
}

# ratio A B prints A/B to three places, or nothing when either is missing.
ratio() {
	[[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f\n", a / b}' || true
}

# target NAME RATIO OP LIMIT DETAIL appends a target check; OP is ">=" or "<=".
target() {
	local name=$1 r=$2 op=$3 limit=$4 detail=$5 met=n/a
	if [[ -n $r ]]; then
		met=$(awk -v r="$r" -v l="$limit" -v op="$op" \
			'BEGIN {ok = op == ">=" ? r >= l : r <= l; print ok ? "yes" : "no"}')
	fi
	printf '%s\t%s\t%s %s\t%s\t%s\n' "$name" "${r:-n/a}" "$op" "$limit" "$met" "$detail" >>"$out/targets.tsv"
}

# paired_warm_ratio prints the median over rounds of breakwater's warm MB/s divided by the faster
# peer's in the same round. Rounds interleave the servers, so this cancels some of the drift
# that load from elsewhere puts between rounds; it is shown beside the target, not instead of it.
paired_warm_ratio() {
	awk -F '\t' '$1 == "warm_blob_1g" {v[$3, $2] = $4; runs[$3] = 1}
		END {
			for (r in runs) {
				peer = v[r, "nginx"] > v[r, "distribution"] ? v[r, "nginx"] : v[r, "distribution"]
				if (v[r, "breakwater"] != "" && peer > 0) printf "%.3f\n", v[r, "breakwater"] / peer
			}
		}' "$out/samples.tsv" | sort -g | awk '{a[NR] = $1}
		END {
			if (NR == 0) print "n/a"
			else printf "%.3f\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		}'
}

write_targets() {
	local nginx dist bw faster
	: >"$out/targets.tsv"

	nginx=$(med warm_blob_1g nginx)
	dist=$(med warm_blob_1g distribution)
	bw=$(med warm_blob_1g breakwater)
	faster=$(printf '%s\n%s\n' "$nginx" "$dist" | sort -g | tail -1)
	target "warm 1 GiB blob: breakwater / faster peer" "$(ratio "$bw" "$faster")" ">=" 0.95 \
		"breakwater ${bw:-n/a} MB/s, nginx $nginx MB/s, distribution $dist MB/s; same-round ratios: median $(paired_warm_ratio)"

	dist=$(med pull_cold distribution)
	bw=$(med pull_cold breakwater)
	target "cold Debian pull: breakwater / distribution time" "$(ratio "$bw" "$dist")" "<=" 1.00 \
		"breakwater ${bw:-n/a} s, distribution $dist s"

	# Distribution's own ratio rides along in the detail, for comparison.
	local phase big small dbig dsmall
	for phase in cold warm; do
		big=$(med "mem_${phase}_1g" breakwater)
		small=$(med "mem_${phase}_100m" breakwater)
		dbig=$(med "mem_${phase}_1g" distribution)
		dsmall=$(med "mem_${phase}_100m" distribution)
		target "peak RSS, $phase blob: breakwater 1 GiB / 100 MiB" "$(ratio "$big" "$small")" "<=" 1.10 \
			"breakwater ${big:-n/a} / ${small:-n/a} MiB; distribution $dbig / $dsmall MiB = $(ratio "$dbig" "$dsmall")"
	done
}

write_machine() {
	local file=$1 bw_version=n/a
	[[ -x $work/bin/breakwater ]] &&
		bw_version="$(git -C "$repo_root" rev-parse --short HEAD)$(git -C "$repo_root" diff --quiet HEAD -- . 2>/dev/null || echo +dirty)"
	{
		printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
		printf 'cpu\t%s\n' "$(awk -F ': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
		printf 'nproc\t%s\n' "$(nproc)"
		printf 'memory\t%s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
		printf 'kernel\t%s\n' "$(uname -r)"
		printf 'os\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
		printf 'go\t%s\n' "$(go env GOVERSION)"
		printf 'breakwater\t%s\n' "$bw_version"
		printf 'distribution\t%s\n' "$(registry --version | awk '{print $NF}')"
		printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's/.*nginx\///')"
		printf 'skopeo\t%s\n' "$(skopeo --version | awk '{print $NF}')"
		printf 'curl\t%s\n' "$(curl --version | awk 'NR == 1 {print $2}')"
		printf 'crane\t%s\n' "$(crane version)"
		printf 'load average\t%s at start, %s at end (1, 5, 15 min)\n' "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf 'runs\t%s warm blob GETs, %s pulls\n' "$runs" "$pull_runs"
	} >"$file"
}

# cell SECTION SERVER prints a median for a table cell, with its spread when there are several.
cell() {
	awk -F '\t' -v s="$1" -v v="$2" '
		$1 == s && $2 == v {
			if ($6 > 1) printf "%s (%s–%s)", $3, $4, $5; else printf "%s", $3
			found = 1
		}
		END { if (!found) printf "–" }' "$out/summary.tsv"
}

row() {
	local label=$1 section=$2
	printf '| %s | %s | %s | %s | %s |\n' "$label" "$(cell "$section" nginx)" \
		"$(cell "$section" distribution)" "$(cell "$section" breakwater)" "$(cell "$section" upstream)"
}

write_markdown() {
	echo "Run of $(awk -F '\t' '$1 == "date" {print $2}' "$out/machine.tsv"): median (min–max)."
	echo
	echo '| measurement | nginx | distribution proxy | breakwater | upstream, direct |'
	echo '|---|---|---|---|---|'
	row "warm 1 GiB blob, MB/s ($runs GETs)" warm_blob_1g
	row "server CPU per warm 1 GiB GET, ms" warm_blob_1g_cpu
	row "cold 1 GiB blob, MB/s (1 GET)" cold_blob_1g
	row "cold 100 MiB blob, MB/s ($pull_runs GETs)" cold_blob_100m
	row "Debian 12 pull, cold cache, s ($pull_runs pulls)" pull_cold
	row "Debian 12 pull, warm cache, s ($pull_runs pulls)" pull_warm
	row "Debian 12 pull from the upstream itself, s" pull_direct
	row "peak RSS after start, MiB" mem_idle_1g
	row "peak RSS, 100 MiB blob cold, MiB" mem_cold_100m
	row "peak RSS, 1 GiB blob cold, MiB" mem_cold_1g
	row "peak RSS, 100 MiB blob warm, MiB" mem_warm_100m
	row "peak RSS, 1 GiB blob warm, MiB" mem_warm_1g
	echo
	echo '| target | ratio | limit | met | numbers |'
	echo '|---|---|---|---|---|'
	awk -F '\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$out/targets.tsv"
	echo
	echo '| machine | |'
	echo '|---|---|'
	awk -F '\t' '{printf "| %s | %s |\n", $1, $2}' "$out/machine.tsv"
}

# tsv_json FILE FIELDS... prints FILE's rows as a JSON array of objects with those keys.
tsv_json() {
	local file=$1
	shift
	jq -R -s --args 'split("\n") | map(select(length > 0) | split("\t")
		| [$ARGS.positional, .] | transpose | map({(.[0]): (.[1] | tonumber? // .)}) | add)' \
		"$@" <"$file"
}

write_summary() {
	summarize >"$out/summary.tsv"
	write_targets
	write_markdown >"$out/summary.md"
	jq -n \
		--argjson machine "$(jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): .[1]}) | add' <"$out/machine.tsv")" \
		--argjson summary "$(tsv_json "$out/summary.tsv" section server median min max n unit)" \
		--argjson targets "$(tsv_json "$out/targets.tsv" target ratio limit met detail)" \
		'{machine: $machine, summary: $summary, targets: $targets}' >"$out/summary.json"
}
